// conv2d: NHWC input, [out, kh, kw, in/groups] weight, optional bias; padding explicit or SAME (resolved per call).
// CPU tensors run kernels/cpu; CUDA tensors (f32) run pneuma's CUDA kernels or, with the `cudnn` convolution
// implementation selected, the cuDNN baseline. Also home of that process-wide implementation switch.
#include <atomic>
#include <cstdlib>

#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/baseline/cudnn_conv2d.h"
#include "kernels/conv2d.h"

namespace pneuma {
namespace {

std::atomic<ConvImplementation>& current_implementation() {
  static std::atomic<ConvImplementation> implementation{[] {
    const char* value = std::getenv("PNEUMA_CONV_IMPL");
    return value == nullptr || value[0] == '\0' ? ConvImplementation::native : conv_implementation_from_name(value);
  }()};
  return implementation;
}

bool use_cudnn() { return conv_implementation() == ConvImplementation::cudnn; }

kernels::Conv2dShape conv2d_shape(const Tensor& input, const Tensor& weight, const Conv2dOptions& options) {
  const char* op = "conv2d";
  ops_detail::check_rank(op, {"input", input}, 4);
  ops_detail::check_rank(op, {"weight", weight}, 4);
  PNEUMA_CHECK(options.stride_height >= 1 && options.stride_width >= 1, "conv2d: strides must be >= 1, got %lldx%lld",
               static_cast<long long>(options.stride_height), static_cast<long long>(options.stride_width));
  PNEUMA_CHECK(options.dilation_height >= 1 && options.dilation_width >= 1,
               "conv2d: dilations must be >= 1, got %lldx%lld", static_cast<long long>(options.dilation_height),
               static_cast<long long>(options.dilation_width));
  PNEUMA_CHECK(options.groups >= 1, "conv2d: groups must be >= 1, got %lld", static_cast<long long>(options.groups));

  kernels::Conv2dShape s;
  s.batch = input.dim(0);
  s.in_height = input.dim(1);
  s.in_width = input.dim(2);
  s.in_channels = input.dim(3);
  s.out_channels = weight.dim(0);
  s.kernel_height = weight.dim(1);
  s.kernel_width = weight.dim(2);
  s.groups = options.groups;
  PNEUMA_CHECK(s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0,
               "conv2d: groups %lld must divide input channels (%s) and output channels (weight %s)",
               static_cast<long long>(s.groups), input.describe().c_str(), weight.describe().c_str());
  PNEUMA_CHECK(weight.dim(3) == s.in_channels / s.groups,
               "conv2d: weight %s needs in/groups = %lld input channels per group (input %s, groups %lld)",
               weight.describe().c_str(), static_cast<long long>(s.in_channels / s.groups),
               input.describe().c_str(), static_cast<long long>(s.groups));
  s.stride_height = options.stride_height;
  s.stride_width = options.stride_width;
  s.dilation_height = options.dilation_height;
  s.dilation_width = options.dilation_width;

  const ops_detail::ResolvedPadding pad = ops_detail::resolve_padding(
      options.padding, s.in_height, s.in_width, s.kernel_height, s.kernel_width, s.stride_height, s.stride_width,
      s.dilation_height, s.dilation_width);
  PNEUMA_CHECK(pad.top >= 0 && pad.left >= 0 && pad.bottom >= 0 && pad.right >= 0,
               "conv2d: padding must be non-negative, got (top %lld, left %lld, bottom %lld, right %lld)",
               static_cast<long long>(pad.top), static_cast<long long>(pad.left), static_cast<long long>(pad.bottom),
               static_cast<long long>(pad.right));
  s.pad_top = pad.top;
  s.pad_left = pad.left;
  s.pad_bottom = pad.bottom;
  s.pad_right = pad.right;

  const int64_t padded_height = s.in_height + pad.top + pad.bottom;
  const int64_t padded_width = s.in_width + pad.left + pad.right;
  const int64_t reach_height = s.dilation_height * (s.kernel_height - 1) + 1;
  const int64_t reach_width = s.dilation_width * (s.kernel_width - 1) + 1;
  PNEUMA_CHECK(s.kernel_height >= 1 && s.kernel_width >= 1 && padded_height >= reach_height &&
                   padded_width >= reach_width,
               "conv2d: kernel %lldx%lld (dilation %lldx%lld) does not fit the padded input %lldx%lld (input %s)",
               static_cast<long long>(s.kernel_height), static_cast<long long>(s.kernel_width),
               static_cast<long long>(s.dilation_height), static_cast<long long>(s.dilation_width),
               static_cast<long long>(padded_height), static_cast<long long>(padded_width),
               input.describe().c_str());
  s.out_height = kernels::conv_output_size(s.in_height, s.kernel_height, s.stride_height, pad.top, pad.bottom,
                                           s.dilation_height);
  s.out_width = kernels::conv_output_size(s.in_width, s.kernel_width, s.stride_width, pad.left, pad.right,
                                          s.dilation_width);
  return s;
}

}  // namespace

Tensor conv2d(const Tensor& input_, const Tensor& weight_, const Tensor& bias_, const Conv2dOptions& options) {
  const DType dtype =
      ops_detail::check_floating_operands("conv2d", {{"input", input_}, {"weight", weight_}}, {{"bias", bias_}});
  const kernels::Conv2dShape s = conv2d_shape(input_, weight_, options);
  if (bias_.defined()) ops_detail::check_vector("conv2d", {"bias", bias_}, s.out_channels);

  const Tensor input = input_.contiguous(), weight = weight_.contiguous();
  const Tensor bias = ops_detail::contiguous_or_undefined(bias_);
  Tensor output = Tensor::empty({s.batch, s.out_height, s.out_width, s.out_channels}, dtype, input.device());
  ops_detail::dispatch(
      input, "conv2d",
      [&]<class T>() {
        kernels::cpu::conv2d_forward<T>(s, input.data<T>(), weight.data<T>(), ops_detail::data_or_null<T>(bias),
                                        output.data<T>());
      },
      [&] {
        const float* b = ops_detail::data_or_null<float>(bias);
        if (use_cudnn())
          kernels::cudnn::conv2d_forward(s, input.data<float>(), weight.data<float>(), b, output.data<float>());
        else
          kernels::cuda::conv2d_forward(s, input.data<float>(), weight.data<float>(), b, output.data<float>());
      });

  // Save only what the backward will read: the weight gradient needs the input, the input gradient the weight.
  const Tensor saved_input = weight_.requires_grad() ? input.detach() : Tensor();
  const Tensor saved_weight = input_.requires_grad() ? weight.detach() : Tensor();
  const Shape input_shape = input.shape(), weight_shape = weight.shape();
  return record_operation(
      "conv2d", output, {input_, weight_, bias_},
      [s, saved_input, saved_weight, input_shape, weight_shape](const Tensor& grad_output_, const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        const DType dtype = grad_output.dtype();
        const Device device = grad_output.device();
        Tensor grad_input, grad_weight, grad_bias;
        if (needs[0]) grad_input = Tensor::empty(input_shape, dtype, device);
        if (needs[1]) grad_weight = Tensor::empty(weight_shape, dtype, device);
        if (needs[2]) grad_bias = Tensor::empty({s.out_channels}, dtype, device);
        ops_detail::dispatch(
            grad_output, "conv2d backward",
            [&]<class T>() {
              const T* dy = grad_output.data<T>();
              if (needs[0])
                kernels::cpu::conv2d_backward_input<T>(s, dy, saved_weight.data<T>(), grad_input.data<T>());
              if (needs[1])
                kernels::cpu::conv2d_backward_weight<T>(s, saved_input.data<T>(), dy, grad_weight.data<T>());
              if (needs[2]) kernels::cpu::conv2d_backward_bias<T>(s, dy, grad_bias.data<T>());
            },
            [&] {
              const float* dy = grad_output.data<float>();
              const bool cudnn = use_cudnn();
              if (needs[0]) {
                if (cudnn)
                  kernels::cudnn::conv2d_backward_input(s, dy, saved_weight.data<float>(), grad_input.data<float>());
                else
                  kernels::cuda::conv2d_backward_input(s, dy, saved_weight.data<float>(), grad_input.data<float>());
              }
              if (needs[1]) {
                if (cudnn)
                  kernels::cudnn::conv2d_backward_weight(s, saved_input.data<float>(), dy, grad_weight.data<float>());
                else
                  kernels::cuda::conv2d_backward_weight(s, saved_input.data<float>(), dy, grad_weight.data<float>());
              }
              if (needs[2]) {
                if (cudnn)
                  kernels::cudnn::conv2d_backward_bias(s, dy, grad_bias.data<float>());
                else
                  kernels::cuda::conv2d_backward_bias(s, dy, grad_bias.data<float>());
              }
            });
        return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
      });
}

void set_conv_implementation(ConvImplementation implementation) { current_implementation().store(implementation); }
ConvImplementation conv_implementation() { return current_implementation().load(); }

ConvImplementation conv_implementation_from_name(const std::string& name) {
  if (name == "native") return ConvImplementation::native;
  if (name == "cudnn") return ConvImplementation::cudnn;
  PNEUMA_FAIL("unknown convolution implementation '%s' (expected native or cudnn)", name.c_str());
}

const char* conv_implementation_name(ConvImplementation implementation) {
  return implementation == ConvImplementation::cudnn ? "cudnn" : "native";
}

}  // namespace pneuma
