// Private helpers shared by the op implementations in engine/ops/: input validation with messages that name the
// op, device dispatch (the CPU kernels for f32/f64, the CUDA kernels for f32 on a GPU), padding resolution,
// broadcasting, and small conveniences for handing optional tensors to raw-pointer kernels.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "engine/ops.h"
#include "engine/tensor.h"
#include "kernels/elementwise.h"

namespace pneuma::ops_detail {

#if PNEUMA_WITH_CUDA
inline constexpr bool kCudaBuilt = true;
#else
inline constexpr bool kCudaBuilt = false;
#endif

// A tensor with the name it has in the op's signature, so messages can say "conv2d: weight f64[3] ...".
struct NamedTensor {
  const char* name;
  const Tensor& tensor;
};

// Fails unless a kernel of this build can run on `tensor`: any CPU tensor; a CUDA tensor only in a CUDA build and
// only as f32 (the CUDA kernels' type). For a CUDA tensor it also makes the tensor's GPU the current one.
void require_kernel(const char* operation, const Tensor& tensor);

// Runs the op's kernels for the device of `reference` (already checked by require_kernel): `cuda()` for a CUDA
// tensor, else `cpu.template operator()<T>()` with T = float or double. In a build without CUDA the CUDA branch is
// never instantiated, so `cuda` may name kernels::cuda functions that are not linked there.
template <class CpuBody, class CudaBody>
decltype(auto) dispatch(const Tensor& reference, const char* operation, CpuBody&& cpu, CudaBody&& cuda) {
  if constexpr (kCudaBuilt) {
    if (reference.device().is_cuda()) return cuda();
  }
  return dispatch_floating(reference.dtype(), operation, cpu);
}

// Checks that every defined tensor in `operands` is floating point (f32 or f64), that they share one dtype and one
// device, and that the op can run there. Undefined tensors (optional operands) are skipped; `required` ones must be
// defined. Returns the common dtype.
DType check_floating_operands(const char* operation, std::initializer_list<NamedTensor> required,
                              std::initializer_list<NamedTensor> optional = {});

// Fails unless `tensor` has exactly `rank` axes.
void check_rank(const char* operation, const NamedTensor& operand, int rank);
// Fails unless `tensor` is one-dimensional with `length` elements (per-channel parameters).
void check_vector(const char* operation, const NamedTensor& operand, int64_t length);

// Padding2d resolved to four numbers for one input size: SAME uses kernels::same_padding per axis.
struct ResolvedPadding {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
};
ResolvedPadding resolve_padding(const Padding2d& padding, int64_t in_height, int64_t in_width, int64_t kernel_height,
                                int64_t kernel_width, int64_t stride_height, int64_t stride_width,
                                int64_t dilation_height, int64_t dilation_width);

// NumPy broadcasting of two shapes (rank <= kernels::kMaxRank): the output shape and each operand's strides into its
// own contiguous buffer (0 along broadcast axes).
kernels::BroadcastShape broadcast_shapes(const char* operation, const Shape& a, const Shape& b);
Shape broadcast_output_shape(const kernels::BroadcastShape& broadcast);

// Data pointer of an optional operand, or null when it is undefined.
template <class T>
const T* data_or_null(const Tensor& tensor) {
  return tensor.defined() ? tensor.data<T>() : nullptr;
}
template <class T>
T* mutable_data_or_null(Tensor& tensor) {
  return tensor.defined() ? tensor.data<T>() : nullptr;
}

// contiguous() that keeps undefined tensors undefined.
inline Tensor contiguous_or_undefined(const Tensor& tensor) {
  return tensor.defined() ? tensor.contiguous() : Tensor();
}
// detach() that keeps undefined tensors undefined.
inline Tensor detach_or_undefined(const Tensor& tensor) { return tensor.defined() ? tensor.detach() : Tensor(); }

// The value of a single-element gradient (the loss and reduction backward passes take it as a scalar). CPU
// tensors only: on CUDA the kernels read the scalar on the device instead of waiting for it here.
inline double scalar_gradient(const Tensor& grad_output) { return grad_output.item(); }

// Normalises a possibly negative axis against `rank`, failing with the op's name when out of range.
int normalize_axis(const char* operation, int axis, int rank);

}  // namespace pneuma::ops_detail
