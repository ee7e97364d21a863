#include "engine/nn/conv2d.h"

#include "engine/nn/init.h"

namespace pneuma::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, Padding2d padding,
               int64_t dilation, int64_t groups, bool bias, Generator& generator)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {
  PNEUMA_CHECK(in_channels > 0 && out_channels > 0 && kernel_size > 0 && stride > 0 && dilation > 0 && groups > 0,
               "Conv2d(%lld, %lld, kernel %lld, stride %lld, dilation %lld, groups %lld): all must be positive",
               static_cast<long long>(in_channels), static_cast<long long>(out_channels),
               static_cast<long long>(kernel_size), static_cast<long long>(stride),
               static_cast<long long>(dilation), static_cast<long long>(groups));
  PNEUMA_CHECK(in_channels % groups == 0 && out_channels % groups == 0,
               "Conv2d: %lld groups must divide in_channels %lld and out_channels %lld",
               static_cast<long long>(groups), static_cast<long long>(in_channels),
               static_cast<long long>(out_channels));
  options_.stride_height = options_.stride_width = stride;
  options_.padding = padding;
  options_.dilation_height = options_.dilation_width = dilation;
  options_.groups = groups;

  Tensor weight = Tensor::empty({out_channels, kernel_size, kernel_size, in_channels / groups});
  init::kaiming_normal_fan_out(weight, generator);
  weight_ = register_parameter("weight", weight);
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_channels}));
}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight_, bias_, options_); }

}  // namespace pneuma::nn
