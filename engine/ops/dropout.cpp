// Dropout and drop-path (stochastic depth). The mask is never stored: the forward reserves a block of counters from
// the Generator and the backward regenerates the same mask from (seed, offset).
#include "engine/ops.h"
#include "engine/ops/op_support.h"
#include "kernels/dropout.h"

namespace pneuma {
namespace {

void check_probability(const char* op, double p) {
  PNEUMA_CHECK(p >= 0.0 && p <= 1.0, "%s: drop probability must be in [0, 1], got %g", op, p);
}

// p == 1 drops everything: the output and every gradient are zero (the kernels' 1/(1-p) scale is undefined there).
Tensor drop_everything(const char* op, const Tensor& input) {
  Tensor output = Tensor::zeros(input.shape(), input.dtype(), input.device());
  const Shape shape = input.shape();
  return record_operation(op, output, {input}, [shape](const Tensor& grad_output, const std::vector<bool>&) {
    return std::vector<Tensor>{Tensor::zeros(shape, grad_output.dtype(), grad_output.device())};
  });
}

}  // namespace

Tensor dropout(const Tensor& input_, double p, bool training, Generator& generator) {
  const char* op = "dropout";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  check_probability(op, p);
  if (!training || p == 0.0) return input_;
  if (p == 1.0) return drop_everything(op, input_);
  const Tensor input = input_.contiguous();
  const int64_t count = input.numel();
  const uint64_t seed = generator.seed();
  const uint64_t offset = generator.reserve(static_cast<uint64_t>(count));
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        kernels::cpu::dropout_forward<T>(count, static_cast<T>(p), seed, offset, input.data<T>(), output.data<T>());
      },
      [&] {
        kernels::cuda::dropout_forward<float>(count, static_cast<float>(p), seed, offset, input.data<float>(),
                                              output.data<float>());
      });
  const Shape shape = input.shape();
  return record_operation(op, output, {input_},
                          [shape, count, p, seed, offset](const Tensor& grad_output_, const std::vector<bool>&) {
                            const Tensor grad_output = grad_output_.contiguous();
                            Tensor grad_input = Tensor::empty(shape, grad_output.dtype(), grad_output.device());
                            ops_detail::dispatch(
                                grad_output, "dropout backward",
                                [&]<class T>() {
                                  kernels::cpu::dropout_backward<T>(count, static_cast<T>(p), seed, offset,
                                                                    grad_output.data<T>(), grad_input.data<T>());
                                },
                                [&] {
                                  kernels::cuda::dropout_backward<float>(count, static_cast<float>(p), seed, offset,
                                                                         grad_output.data<float>(),
                                                                         grad_input.data<float>());
                                });
                            return std::vector<Tensor>{grad_input};
                          });
}

Tensor drop_path(const Tensor& input_, double p, bool training, Generator& generator) {
  const char* op = "drop_path";
  const DType dtype = ops_detail::check_floating_operands(op, {{"input", input_}});
  check_probability(op, p);
  PNEUMA_CHECK(input_.rank() >= 1, "drop_path: input needs a batch axis, got %s", input_.describe().c_str());
  if (!training || p == 0.0) return input_;
  if (p == 1.0) return drop_everything(op, input_);
  const Tensor input = input_.contiguous();
  const int64_t batch = input.dim(0);
  const int64_t per_sample = batch == 0 ? 0 : input.numel() / batch;
  const uint64_t seed = generator.seed();
  const uint64_t offset = generator.reserve(static_cast<uint64_t>(batch));
  Tensor output = Tensor::empty(input.shape(), dtype, input.device());
  ops_detail::dispatch(
      input, op,
      [&]<class T>() {
        kernels::cpu::drop_path_forward<T>(batch, per_sample, static_cast<T>(p), seed, offset, input.data<T>(),
                                           output.data<T>());
      },
      [&] {
        kernels::cuda::drop_path_forward<float>(batch, per_sample, static_cast<float>(p), seed, offset,
                                                input.data<float>(), output.data<float>());
      });
  const Shape shape = input.shape();
  return record_operation(
      op, output, {input_}, [shape, batch, per_sample, p, seed, offset](const Tensor& grad_output_, const std::vector<bool>&) {
        const Tensor grad_output = grad_output_.contiguous();
        Tensor grad_input = Tensor::empty(shape, grad_output.dtype(), grad_output.device());
        ops_detail::dispatch(
            grad_output, "drop_path backward",
            [&]<class T>() {
              kernels::cpu::drop_path_backward<T>(batch, per_sample, static_cast<T>(p), seed, offset,
                                                  grad_output.data<T>(), grad_input.data<T>());
            },
            [&] {
              kernels::cuda::drop_path_backward<float>(batch, per_sample, static_cast<float>(p), seed, offset,
                                                       grad_output.data<float>(), grad_input.data<float>());
            });
        return std::vector<Tensor>{grad_input};
      });
}

}  // namespace pneuma
