// 2-D convolution over NHWC input. Weight [out, kernel, kernel, in/groups] named "weight", bias [out] named "bias".
// Initialised like torchvision's MobileNetV2/EfficientNet: kaiming_normal(fan_out) weight, zero bias.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace pneuma::nn {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
         Padding2d padding = Padding2d(), int64_t dilation = 1, int64_t groups = 1, bool bias = true,
         Generator& generator = default_generator());

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv2d"; }

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }  // undefined without bias
  const Conv2dOptions& options() const { return options_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int64_t kernel_size() const { return kernel_size_; }

 private:
  int64_t in_channels_, out_channels_, kernel_size_;
  Conv2dOptions options_;
  Tensor weight_, bias_;
};

}  // namespace pneuma::nn
