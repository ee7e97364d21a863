#include "engine/ops/op_support.h"

#include <algorithm>

#include "kernels/conv2d.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma::ops_detail {

void require_kernel(const char* operation, const Tensor& tensor) {
  if (!tensor.device().is_cuda()) return;
  PNEUMA_CHECK(kCudaBuilt, "%s: no CUDA kernel in this build yet: it was configured without CUDA (got %s)",
               operation, tensor.describe().c_str());
  PNEUMA_CHECK(tensor.dtype() == DType::f32 || !is_floating(tensor.dtype()),
               "%s: no CUDA kernel in this build yet for %s tensors; the CUDA kernels take f32 (got %s)", operation,
               dtype_name(tensor.dtype()), tensor.describe().c_str());
#if PNEUMA_WITH_CUDA
  kernels::cuda::set_device(tensor.device().index);
#endif
}

DType check_floating_operands(const char* operation, std::initializer_list<NamedTensor> required,
                              std::initializer_list<NamedTensor> optional) {
  const NamedTensor* first = nullptr;
  auto check_one = [&](const NamedTensor& operand) {
    const Tensor& t = operand.tensor;
    PNEUMA_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "%s: %s is %s; only f32 and f64 are supported",
                 operation, operand.name, t.describe().c_str());
    if (first == nullptr) {
      first = &operand;
      require_kernel(operation, t);
      return;
    }
    PNEUMA_CHECK(t.dtype() == first->tensor.dtype(), "%s: %s is %s but %s is %s (dtypes must match)", operation,
                 operand.name, t.describe().c_str(), first->name, first->tensor.describe().c_str());
    PNEUMA_CHECK(t.device() == first->tensor.device(), "%s: %s is %s but %s is %s (devices must match)", operation,
                 operand.name, t.describe().c_str(), first->name, first->tensor.describe().c_str());
  };
  for (const NamedTensor& operand : required) {
    PNEUMA_CHECK(operand.tensor.defined(), "%s: %s is undefined", operation, operand.name);
    check_one(operand);
  }
  for (const NamedTensor& operand : optional)
    if (operand.tensor.defined()) check_one(operand);
  PNEUMA_CHECK(first != nullptr, "%s: no operands", operation);
  return first->tensor.dtype();
}

void check_rank(const char* operation, const NamedTensor& operand, int rank) {
  PNEUMA_CHECK(operand.tensor.rank() == rank, "%s: %s must have rank %d, got %s", operation, operand.name, rank,
               operand.tensor.describe().c_str());
}

void check_vector(const char* operation, const NamedTensor& operand, int64_t length) {
  PNEUMA_CHECK(operand.tensor.rank() == 1 && operand.tensor.dim(0) == length, "%s: %s must have shape [%lld], got %s",
               operation, operand.name, static_cast<long long>(length), operand.tensor.describe().c_str());
}

ResolvedPadding resolve_padding(const Padding2d& padding, int64_t in_height, int64_t in_width, int64_t kernel_height,
                                int64_t kernel_width, int64_t stride_height, int64_t stride_width,
                                int64_t dilation_height, int64_t dilation_width) {
  ResolvedPadding resolved;
  if (padding.mode == Padding2d::Mode::same) {
    kernels::same_padding(in_height, kernel_height, stride_height, dilation_height, &resolved.top, &resolved.bottom);
    kernels::same_padding(in_width, kernel_width, stride_width, dilation_width, &resolved.left, &resolved.right);
  } else {
    resolved = {padding.top, padding.left, padding.bottom, padding.right};
  }
  return resolved;
}

kernels::BroadcastShape broadcast_shapes(const char* operation, const Shape& a, const Shape& b) {
  const int rank = static_cast<int>(std::max(a.size(), b.size()));
  PNEUMA_CHECK(rank <= kernels::kMaxRank, "%s: rank %d exceeds the supported %d (shapes %s and %s)", operation, rank,
               kernels::kMaxRank, shape_string(a).c_str(), shape_string(b).c_str());
  kernels::BroadcastShape s;
  s.rank = rank;
  // Right-align the shapes; a missing or size-1 axis broadcasts.
  int64_t a_stride = 1, b_stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int a_axis = d - (rank - static_cast<int>(a.size()));
    const int b_axis = d - (rank - static_cast<int>(b.size()));
    const int64_t a_size = a_axis >= 0 ? a[a_axis] : 1;
    const int64_t b_size = b_axis >= 0 ? b[b_axis] : 1;
    PNEUMA_CHECK(a_size == b_size || a_size == 1 || b_size == 1,
                 "%s: shapes %s and %s do not broadcast (axis %d: %lld vs %lld)", operation, shape_string(a).c_str(),
                 shape_string(b).c_str(), d, static_cast<long long>(a_size), static_cast<long long>(b_size));
    s.shape[d] = a_size == 1 ? b_size : a_size;
    s.a_stride[d] = a_size == 1 ? 0 : a_stride;
    s.b_stride[d] = b_size == 1 ? 0 : b_stride;
    a_stride *= a_size;
    b_stride *= b_size;
  }
  return s;
}

Shape broadcast_output_shape(const kernels::BroadcastShape& broadcast) {
  return Shape(broadcast.shape, broadcast.shape + broadcast.rank);
}

int normalize_axis(const char* operation, int axis, int rank) {
  const int normalized = axis < 0 ? axis + rank : axis;
  PNEUMA_CHECK(normalized >= 0 && normalized < rank, "%s: axis %d is out of range for rank %d", operation, axis, rank);
  return normalized;
}

}  // namespace pneuma::ops_detail
