// Full reductions to a scalar of shape []: sum and mean. The backward broadcasts the scalar gradient back
// (times 1/n for the mean). On CUDA both directions stay on the device.
#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {
namespace {

Tensor reduce_all(const char* op, const Tensor& input_, bool average) {
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  const Tensor input = input_.contiguous();
  const int64_t count = input.numel();
  // An empty mean is NaN, as in NumPy and PyTorch.
  const double multiplier = average ? 1.0 / static_cast<double>(count) : 1.0;
  Tensor output = Tensor::empty({}, dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        const double total = kernels::cpu::sum<T>(count, input.data<T>());
        output.fill(average ? total / static_cast<double>(count) : total);
      },
      [&] { kernels::cuda::sum<float>(count, input.data<float>(), multiplier, output.data<float>()); });
  const Shape input_shape = input.shape();
  return record_operation(
      op, output, {input_}, [input_shape, count, average, multiplier](const Tensor& grad_output_, const std::vector<bool>&) {
        const Tensor grad_output = grad_output_.contiguous();
        Tensor grad_input = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
        ops_detail::dispatch(
            grad_output, "reduction backward",
            [&]<class T>() {
              double gradient = ops_detail::scalar_gradient(grad_output);
              if (average) gradient /= static_cast<double>(count);
              grad_input.fill(gradient);
            },
            [&] {
              kernels::cuda::fill_from_scalar<float>(count, grad_output.data<float>(), multiplier,
                                                     grad_input.data<float>());
            });
        return std::vector<Tensor>{grad_input};
      });
}

}  // namespace

Tensor sum(const Tensor& input) { return reduce_all("sum", input, false); }
Tensor mean(const Tensor& input) { return reduce_all("mean", input, true); }

}  // namespace pneuma
