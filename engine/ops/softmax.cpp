// Softmax and log-softmax over the last axis. Both backward passes need only the output y, which they save.
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/softmax.h"

namespace pneuma {
namespace {

template <bool Logarithmic>
Tensor softmax_over_last_axis(const char* op, const Tensor& input_) {
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  PNEUMA_CHECK(input_.rank() >= 1, "%s: input must have at least one axis, got %s", op, input_.describe().c_str());
  const Tensor input = input_.contiguous();
  const int64_t cols = input.dim(-1);
  const int64_t rows = shape_numel(Shape(input.shape().begin(), input.shape().end() - 1));
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        if constexpr (Logarithmic) kernels::cpu::log_softmax_forward<T>(rows, cols, input.data<T>(), output.data<T>());
        else kernels::cpu::softmax_forward<T>(rows, cols, input.data<T>(), output.data<T>());
      },
      [&] {
        if constexpr (Logarithmic)
          kernels::cuda::log_softmax_forward<float>(rows, cols, input.data<float>(), output.data<float>());
        else kernels::cuda::softmax_forward<float>(rows, cols, input.data<float>(), output.data<float>());
      });
  const Tensor saved_output = output.detach();
  return record_operation(op, output, {input_},
                          [rows, cols, saved_output](const Tensor& grad_output_, const std::vector<bool>&) {
                            const Tensor grad_output = grad_output_.contiguous();
                            Tensor grad_input =
                                Tensor::empty(saved_output.shape(), grad_output.dtype(), grad_output.device());
                            ops_detail::dispatch(
                                grad_output, "softmax backward",
                                [&]<class T>() {
                                  if constexpr (Logarithmic)
                                    kernels::cpu::log_softmax_backward<T>(rows, cols, saved_output.data<T>(),
                                                                          grad_output.data<T>(), grad_input.data<T>());
                                  else
                                    kernels::cpu::softmax_backward<T>(rows, cols, saved_output.data<T>(),
                                                                      grad_output.data<T>(), grad_input.data<T>());
                                },
                                [&] {
                                  const float* y = saved_output.data<float>();
                                  const float* dy = grad_output.data<float>();
                                  float* dx = grad_input.data<float>();
                                  if constexpr (Logarithmic) kernels::cuda::log_softmax_backward<float>(rows, cols, y, dy, dx);
                                  else kernels::cuda::softmax_backward<float>(rows, cols, y, dy, dx);
                                });
                            return std::vector<Tensor>{grad_input};
                          });
}

}  // namespace

Tensor softmax(const Tensor& input) { return softmax_over_last_axis<false>("softmax", input); }
Tensor log_softmax(const Tensor& input) { return softmax_over_last_axis<true>("log_softmax", input); }

}  // namespace pneuma
