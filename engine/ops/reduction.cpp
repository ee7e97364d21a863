// Full reductions to a scalar of shape []: sum and mean. The backward broadcasts the scalar gradient back
// (times 1/n for the mean).
#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {
namespace {

Tensor reduce_all(const char* op, const Tensor& input_, bool average) {
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  const Tensor input = input_.contiguous();
  const int64_t count = input.numel();
  const double total = dispatch_floating(dtype, op, [&]<class T>() { return kernels::cpu::sum<T>(count, input.data<T>()); });
  // An empty mean is NaN, as in NumPy and PyTorch.
  const double value = average ? total / static_cast<double>(count) : total;
  Tensor output = Tensor::full({}, value, dtype, input.device());
  const Shape input_shape = input.shape();
  return record_operation(op, output, {input_},
                          [input_shape, count, average](const Tensor& grad_output, const std::vector<bool>&) {
                            double gradient = ops_detail::scalar_gradient(grad_output);
                            if (average) gradient /= static_cast<double>(count);
                            return std::vector<Tensor>{Tensor::full(input_shape, gradient, grad_output.dtype())};
                          });
}

}  // namespace

Tensor sum(const Tensor& input) { return reduce_all("sum", input, false); }
Tensor mean(const Tensor& input) { return reduce_all("mean", input, true); }

}  // namespace pneuma
