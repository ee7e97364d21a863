// Pointwise activations (relu, silu, gelu, ...): y = f(x), dx = dy · f'(x).
#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {

Tensor activation(const Tensor& input_, kernels::Activation kind) {
  const char* name = kernels::activation_name(kind);
  const DType dtype = ops_detail::check_floating_operands(name, {{"input", input_}});
  const Tensor input = input_.contiguous();
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  const int64_t count = input.numel();
  ops_detail::dispatch(
      input, name,
      [&]<class T>() { kernels::cpu::activation_forward<T>(kind, count, input.data<T>(), output.data<T>()); },
      [&] { kernels::cuda::activation_forward<float>(kind, count, input.data<float>(), output.data<float>()); });
  const Tensor saved_input = input.detach();
  return record_operation(name, output, {input_},
                          [kind, saved_input](const Tensor& grad_output_, const std::vector<bool>& needs) {
                            const Tensor grad_output = grad_output_.contiguous();
                            Tensor grad_input =
                                Tensor::empty(saved_input.shape(), grad_output.dtype(), grad_output.device());
                            const int64_t count = saved_input.numel();
                            ops_detail::dispatch(
                                grad_output, "activation backward",
                                [&]<class T>() {
                                  kernels::cpu::activation_backward<T>(kind, count, saved_input.data<T>(),
                                                                       grad_output.data<T>(), grad_input.data<T>());
                                },
                                [&] {
                                  kernels::cuda::activation_backward<float>(kind, count, saved_input.data<float>(),
                                                                            grad_output.data<float>(),
                                                                            grad_input.data<float>());
                                });
                            return std::vector<Tensor>{grad_input};
                          });
}

}  // namespace pneuma
