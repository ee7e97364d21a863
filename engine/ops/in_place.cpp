// In-place helpers for the engine itself (gradient accumulation, optimizers, clipping). Never recorded.
#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {

void add_in_place(Tensor& destination, const Tensor& source_) {
  const char* op = "add_in_place";
  ops_detail::check_floating_operands(op, {{"destination", destination}, {"source", source_}});
  PNEUMA_CHECK(destination.shape() == source_.shape(), "add_in_place: source %s does not match destination %s",
               source_.describe().c_str(), destination.describe().c_str());
  PNEUMA_CHECK(destination.is_contiguous(), "add_in_place: destination %s must be contiguous",
               destination.describe().c_str());
  const Tensor source = source_.contiguous();
  const int64_t count = destination.numel();
  ops_detail::dispatch(
      destination, op,
      [&]<class T>() { kernels::cpu::axpy<T>(count, T(1), source.data<T>(), destination.data<T>()); },
      [&] { kernels::cuda::axpy<float>(count, 1.0f, source.data<float>(), destination.data<float>()); });
}

void scale_in_place(Tensor& tensor, double alpha) {
  const char* op = "scale_in_place";
  ops_detail::check_floating_operands(op, {{"tensor", tensor}});
  PNEUMA_CHECK(tensor.is_contiguous(), "scale_in_place: tensor %s must be contiguous", tensor.describe().c_str());
  const int64_t count = tensor.numel();
  ops_detail::dispatch(
      tensor, op,
      [&]<class T>() { kernels::cpu::scale<T>(count, static_cast<T>(alpha), tensor.data<T>(), tensor.data<T>()); },
      [&] {
        kernels::cuda::scale<float>(count, static_cast<float>(alpha), tensor.data<float>(), tensor.data<float>());
      });
}

double sum_of_squares(const Tensor& tensor_) {
  const char* op = "sum_of_squares";
  ops_detail::check_floating_operands(op, {{"tensor", tensor_}});
  const Tensor tensor = tensor_.contiguous();
  return ops_detail::dispatch(
      tensor, op, [&]<class T>() { return kernels::cpu::sum_of_squares<T>(tensor.numel(), tensor.data<T>()); },
      [&] { return kernels::cuda::sum_of_squares<float>(tensor.numel(), tensor.data<float>()); });
}

bool all_finite(const Tensor& tensor_) {
  const char* op = "all_finite";
  PNEUMA_CHECK(tensor_.defined(), "all_finite: tensor is undefined");
  ops_detail::require_kernel(op, tensor_);
  if (!is_floating(tensor_.dtype())) return true;  // integers are always finite
  // bf16 / f16 are checked through f32, which represents every one of their values (inf and NaN included).
  const Tensor tensor = tensor_.dtype() == DType::f64 ? tensor_.contiguous() : tensor_.to(DType::f32).contiguous();
  if (tensor.dtype() == DType::f64) return kernels::cpu::all_finite(tensor.numel(), tensor.data<double>());
#if PNEUMA_WITH_CUDA
  if (tensor.device().is_cuda()) return kernels::cuda::all_finite(tensor.numel(), tensor.data<float>());
#endif
  return kernels::cpu::all_finite(tensor.numel(), tensor.data<float>());
}

}  // namespace pneuma
