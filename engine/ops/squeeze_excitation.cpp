// Squeeze-excitation pieces: global average pooling [N, H, W, C] -> [N, C] and the per-(sample, channel) scale
// [N, H, W, C] · [N, C] -> [N, H, W, C].
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/pool.h"

namespace pneuma {

Tensor global_avg_pool(const Tensor& input_) {
  const char* op = "global_avg_pool";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  ops_detail::check_rank(op, {"input", input_}, 4);
  const int64_t batch = input_.dim(0), pixels = input_.dim(1) * input_.dim(2), channels = input_.dim(3);
  PNEUMA_CHECK(pixels > 0, "global_avg_pool: input %s has no pixels", input_.describe().c_str());
  const Tensor input = input_.contiguous();
  Tensor output = Tensor::empty({batch, channels}, dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        kernels::cpu::global_avg_pool_forward<T>(batch, pixels, channels, input.data<T>(), output.data<T>());
      },
      [&] {
        kernels::cuda::global_avg_pool_forward<float>(batch, pixels, channels, input.data<float>(),
                                                      output.data<float>());
      });
  const Shape input_shape = input.shape();
  return record_operation(op, output, {input_},
                          [input_shape, batch, pixels, channels](const Tensor& grad_output_, const std::vector<bool>&) {
                            const Tensor grad_output = grad_output_.contiguous();
                            Tensor grad_input = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
                            ops_detail::dispatch(
                                grad_output, "global_avg_pool backward",
                                [&]<class T>() {
                                  kernels::cpu::global_avg_pool_backward<T>(batch, pixels, channels,
                                                                            grad_output.data<T>(), grad_input.data<T>());
                                },
                                [&] {
                                  kernels::cuda::global_avg_pool_backward<float>(batch, pixels, channels,
                                                                                 grad_output.data<float>(),
                                                                                 grad_input.data<float>());
                                });
                            return std::vector<Tensor>{grad_input};
                          });
}

Tensor channel_scale(const Tensor& input_, const Tensor& scale_) {
  const char* op = "channel_scale";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}, {"scale", scale_}});
  ops_detail::check_rank(op, {"input", input_}, 4);
  ops_detail::check_rank(op, {"scale", scale_}, 2);
  const int64_t batch = input_.dim(0), pixels = input_.dim(1) * input_.dim(2), channels = input_.dim(3);
  PNEUMA_CHECK(scale_.dim(0) == batch && scale_.dim(1) == channels,
               "channel_scale: scale %s must be [batch, channels] = [%lld, %lld] for input %s",
               scale_.describe().c_str(), static_cast<long long>(batch), static_cast<long long>(channels),
               input_.describe().c_str());
  const Tensor input = input_.contiguous(), scale = scale_.contiguous();
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        kernels::cpu::channel_scale_forward<T>(batch, pixels, channels, input.data<T>(), scale.data<T>(),
                                               output.data<T>());
      },
      [&] {
        kernels::cuda::channel_scale_forward<float>(batch, pixels, channels, input.data<float>(), scale.data<float>(),
                                                    output.data<float>());
      });
  const Tensor saved_input = input.detach(), saved_scale = scale.detach();
  return record_operation(
      op, output, {input_, scale_},
      [saved_input, saved_scale, batch, pixels, channels](const Tensor& grad_output_, const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        const DType dtype = grad_output.dtype();
        Tensor grad_input, grad_scale;
        if (needs[0]) grad_input = Tensor::empty(saved_input.shape(), dtype, grad_output.device());
        if (needs[1]) grad_scale = Tensor::empty(saved_scale.shape(), dtype, grad_output.device());
        ops_detail::dispatch(
            grad_output, "channel_scale backward",
            [&]<class T>() {
              kernels::cpu::channel_scale_backward<T>(batch, pixels, channels, saved_input.data<T>(),
                                                      saved_scale.data<T>(), grad_output.data<T>(),
                                                      ops_detail::mutable_data_or_null<T>(grad_input),
                                                      ops_detail::mutable_data_or_null<T>(grad_scale));
            },
            [&] {
              kernels::cuda::channel_scale_backward<float>(batch, pixels, channels, saved_input.data<float>(),
                                                           saved_scale.data<float>(), grad_output.data<float>(),
                                                           ops_detail::mutable_data_or_null<float>(grad_input),
                                                           ops_detail::mutable_data_or_null<float>(grad_scale));
            });
        return std::vector<Tensor>{grad_input, grad_scale};
      });
}

}  // namespace pneuma
