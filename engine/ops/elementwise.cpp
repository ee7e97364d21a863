// Binary arithmetic with NumPy broadcasting, and scaling by a constant. The gradient of a broadcast operand is
// summed over the axes it was broadcast along, so it always has the operand's own shape.
#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {
namespace {

const char* binary_name(kernels::Binary op) {
  switch (op) {
    case kernels::Binary::add: return "add";
    case kernels::Binary::subtract: return "subtract";
    case kernels::Binary::multiply: return "multiply";
    case kernels::Binary::divide: return "divide";
  }
  return "binary";
}

Tensor binary(kernels::Binary op, const Tensor& a_, const Tensor& b_) {
  const char* name = binary_name(op);
  const DType dtype = ops_detail::check_floating_operands(name, {{"a", a_}, {"b", b_}});
  const kernels::BroadcastShape s = ops_detail::broadcast_shapes(name, a_.shape(), b_.shape());
  const Tensor a = a_.contiguous(), b = b_.contiguous();
  Tensor output = Tensor::empty(ops_detail::broadcast_output_shape(s), dtype, a.device());
  ops_detail::dispatch(
      a, name, [&]<class T>() { kernels::cpu::binary_forward<T>(op, s, a.data<T>(), b.data<T>(), output.data<T>()); },
      [&] { kernels::cuda::binary_forward<float>(op, s, a.data<float>(), b.data<float>(), output.data<float>()); });

  // add and subtract have constant local gradients: nothing to save.
  const bool saves_operands = op == kernels::Binary::multiply || op == kernels::Binary::divide;
  const Tensor saved_a = saves_operands ? a.detach() : Tensor();
  const Tensor saved_b = saves_operands ? b.detach() : Tensor();
  const Shape a_shape = a.shape(), b_shape = b.shape();
  return record_operation(
      name, output, {a_, b_},
      [op, s, saved_a, saved_b, a_shape, b_shape](const Tensor& grad_output_, const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        const DType dtype = grad_output.dtype();
        std::vector<Tensor> grads(2);
        for (int which = 0; which < 2; ++which) {
          if (!needs[which]) continue;
          grads[which] = Tensor::empty(which == 0 ? a_shape : b_shape, dtype, grad_output.device());
          ops_detail::dispatch(
              grad_output, "binary backward",
              [&]<class T>() {
                kernels::cpu::binary_backward<T>(op, s, which, ops_detail::data_or_null<T>(saved_a),
                                                 ops_detail::data_or_null<T>(saved_b), grad_output.data<T>(),
                                                 grads[which].template data<T>());
              },
              [&] {
                kernels::cuda::binary_backward<float>(op, s, which, ops_detail::data_or_null<float>(saved_a),
                                                      ops_detail::data_or_null<float>(saved_b),
                                                      grad_output.data<float>(), grads[which].data<float>());
              });
        }
        return grads;
      });
}

// output = alpha · input (both contiguous, same shape, dtype and device).
void scale_into(const char* op, const Tensor& input, double alpha, Tensor& output) {
  ops_detail::dispatch(
      input, op,
      [&]<class T>() { kernels::cpu::scale<T>(input.numel(), static_cast<T>(alpha), input.data<T>(), output.data<T>()); },
      [&] {
        kernels::cuda::scale<float>(input.numel(), static_cast<float>(alpha), input.data<float>(),
                                    output.data<float>());
      });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(kernels::Binary::add, a, b); }
Tensor subtract(const Tensor& a, const Tensor& b) { return binary(kernels::Binary::subtract, a, b); }
Tensor multiply(const Tensor& a, const Tensor& b) { return binary(kernels::Binary::multiply, a, b); }
Tensor divide(const Tensor& a, const Tensor& b) { return binary(kernels::Binary::divide, a, b); }

Tensor scale(const Tensor& input_, double alpha) {
  const char* op = "scale";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  const Tensor input = input_.contiguous();
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  scale_into(op, input, alpha, output);
  return record_operation(op, output, {input_}, [alpha](const Tensor& grad_output_, const std::vector<bool>&) {
    const Tensor grad_output = grad_output_.contiguous();
    Tensor grad_input = Tensor::empty(grad_output.shape(), grad_output.dtype(), grad_output.device());
    scale_into("scale backward", grad_output, alpha, grad_input);
    return std::vector<Tensor>{grad_input};
  });
}

}  // namespace pneuma
