// Max and average pooling over NHWC images with explicit or SAME padding. Max pooling keeps the winners' positions
// (argmax) for the backward pass, so it does not need to keep the input.
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/conv2d.h"
#include "kernels/pool.h"

namespace pneuma {
namespace {

kernels::Pool2dShape pool2d_shape(const char* op, const Tensor& input, const Pool2dOptions& options) {
  ops_detail::check_rank(op, {"input", input}, 4);
  PNEUMA_CHECK(options.kernel_height >= 1 && options.kernel_width >= 1 && options.stride_height >= 1 &&
                   options.stride_width >= 1,
               "%s: kernel (%lldx%lld) and stride (%lldx%lld) must be positive", op,
               static_cast<long long>(options.kernel_height), static_cast<long long>(options.kernel_width),
               static_cast<long long>(options.stride_height), static_cast<long long>(options.stride_width));
  kernels::Pool2dShape s;
  s.batch = input.dim(0);
  s.in_height = input.dim(1);
  s.in_width = input.dim(2);
  s.channels = input.dim(3);
  s.kernel_height = options.kernel_height;
  s.kernel_width = options.kernel_width;
  s.stride_height = options.stride_height;
  s.stride_width = options.stride_width;
  s.count_include_pad = options.count_include_pad;
  const ops_detail::ResolvedPadding pad =
      ops_detail::resolve_padding(options.padding, s.in_height, s.in_width, s.kernel_height, s.kernel_width,
                                  s.stride_height, s.stride_width, 1, 1);
  // Every window must overlap the image: max pooling needs a winner, valid-only averaging a non-zero count.
  PNEUMA_CHECK(pad.top >= 0 && pad.left >= 0 && pad.bottom >= 0 && pad.right >= 0 && pad.top < s.kernel_height &&
                   pad.bottom < s.kernel_height && pad.left < s.kernel_width && pad.right < s.kernel_width,
               "%s: padding (top %lld, left %lld, bottom %lld, right %lld) must be in [0, kernel) for kernel %lldx%lld",
               op, static_cast<long long>(pad.top), static_cast<long long>(pad.left),
               static_cast<long long>(pad.bottom), static_cast<long long>(pad.right),
               static_cast<long long>(s.kernel_height), static_cast<long long>(s.kernel_width));
  s.pad_top = pad.top;
  s.pad_left = pad.left;
  s.pad_bottom = pad.bottom;
  s.pad_right = pad.right;
  PNEUMA_CHECK(s.in_height + pad.top + pad.bottom >= s.kernel_height && s.in_width + pad.left + pad.right >= s.kernel_width,
               "%s: kernel %lldx%lld is larger than the padded input (input %s)", op,
               static_cast<long long>(s.kernel_height), static_cast<long long>(s.kernel_width),
               input.describe().c_str());
  s.out_height = kernels::conv_output_size(s.in_height, s.kernel_height, s.stride_height, pad.top, pad.bottom, 1);
  s.out_width = kernels::conv_output_size(s.in_width, s.kernel_width, s.stride_width, pad.left, pad.right, 1);
  PNEUMA_CHECK(s.batch > 0 && s.channels > 0 && s.in_height > 0 && s.in_width > 0, "%s: input %s is empty", op,
               input.describe().c_str());
  return s;
}

}  // namespace

Tensor max_pool2d(const Tensor& input_, const Pool2dOptions& options) {
  const char* op = "max_pool2d";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  const kernels::Pool2dShape s = pool2d_shape(op, input_, options);
  const Tensor input = input_.contiguous();
  const Shape output_shape = {s.batch, s.out_height, s.out_width, s.channels};
  Tensor output = Tensor::empty(output_shape, dtype, input.device());
  // The winners are only needed when a backward pass may run.
  Tensor argmax = grad_enabled() && input_.requires_grad() ? Tensor::empty(output_shape, DType::i32, input.device())
                                                           : Tensor();
  int32_t* winners = argmax.defined() ? argmax.data<int32_t>() : nullptr;
  ops_detail::dispatch(
      input, op,
      [&]<class T>() { kernels::cpu::max_pool2d_forward<T>(s, input.data<T>(), output.data<T>(), winners); },
      [&] { kernels::cuda::max_pool2d_forward<float>(s, input.data<float>(), output.data<float>(), winners); });
  const Shape input_shape = input.shape();
  return record_operation(op, output, {input_},
                          [s, argmax, input_shape](const Tensor& grad_output_, const std::vector<bool>&) {
                            const Tensor grad_output = grad_output_.contiguous();
                            Tensor grad_input = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
                            ops_detail::dispatch(
                                grad_output, "max_pool2d backward",
                                [&]<class T>() {
                                  kernels::cpu::max_pool2d_backward<T>(s, nullptr, argmax.data<int32_t>(),
                                                                       grad_output.data<T>(), grad_input.data<T>());
                                },
                                [&] {
                                  kernels::cuda::max_pool2d_backward<float>(s, nullptr, argmax.data<int32_t>(),
                                                                            grad_output.data<float>(),
                                                                            grad_input.data<float>());
                                });
                            return std::vector<Tensor>{grad_input};
                          });
}

Tensor avg_pool2d(const Tensor& input_, const Pool2dOptions& options) {
  const char* op = "avg_pool2d";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  const kernels::Pool2dShape s = pool2d_shape(op, input_, options);
  const Tensor input = input_.contiguous();
  Tensor output = Tensor::empty({s.batch, s.out_height, s.out_width, s.channels}, dtype, input.device());
  ops_detail::dispatch(
      input, op, [&]<class T>() { kernels::cpu::avg_pool2d_forward<T>(s, input.data<T>(), output.data<T>()); },
      [&] { kernels::cuda::avg_pool2d_forward<float>(s, input.data<float>(), output.data<float>()); });
  const Shape input_shape = input.shape();
  return record_operation(op, output, {input_}, [s, input_shape](const Tensor& grad_output_, const std::vector<bool>&) {
    const Tensor grad_output = grad_output_.contiguous();
    Tensor grad_input = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
    ops_detail::dispatch(
        grad_output, "avg_pool2d backward",
        [&]<class T>() { kernels::cpu::avg_pool2d_backward<T>(s, grad_output.data<T>(), grad_input.data<T>()); },
        [&] { kernels::cuda::avg_pool2d_backward<float>(s, grad_output.data<float>(), grad_input.data<float>()); });
    return std::vector<Tensor>{grad_input};
  });
}

}  // namespace pneuma
