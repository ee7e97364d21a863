// Elementwise arithmetic on CUDA: broadcast binary ops and their gradients (forward and backward side by side),
// fills, scaling and axpy. As on the CPU (kernels/cpu/elementwise.cpp), shapes are first "coalesced" — size-1
// axes dropped and neighbouring axes merged where every operand is contiguous across them — so the usual cases
// (same shape, bias over the channel axis) index with one or two divisions. A broadcast operand's gradient is a
// deterministic column reduction over the axes it was broadcast along.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/elementwise.h"

namespace pneuma::kernels::cuda {
namespace {

// An index space of `rank` axes and three stride sets: 0 = output / grad_output (contiguous), 1 = a, 2 = b.
struct Layout {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[3][kMaxRank] = {};
  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
  }
  // Appends an axis, merging it into the previous one when every stride set is contiguous across the two.
  void push(int64_t size, const int64_t (&axis_stride)[3]) {
    if (size == 1) return;
    if (rank > 0) {
      bool mergeable = true;
      for (int set = 0; set < 3; ++set) mergeable &= stride[set][rank - 1] == axis_stride[set] * size;
      if (mergeable) {
        shape[rank - 1] *= size;
        for (int set = 0; set < 3; ++set) stride[set][rank - 1] = axis_stride[set];
        return;
      }
    }
    shape[rank] = size;
    for (int set = 0; set < 3; ++set) stride[set][rank] = axis_stride[set];
    ++rank;
  }
};

struct Offsets {
  int64_t output, a, b;
};

// Offsets of flat (row-major) index `linear` of `layout`.
__device__ __forceinline__ Offsets offsets_of(const Layout& layout, int64_t linear) {
  Offsets offsets{0, 0, 0};
  for (int d = layout.rank - 1; d >= 0; --d) {
    const int64_t size = layout.shape[d];
    const int64_t index = linear % size;
    linear /= size;
    offsets.output += index * layout.stride[0][d];
    offsets.a += index * layout.stride[1][d];
    offsets.b += index * layout.stride[2][d];
  }
  return offsets;
}

// The full broadcast space with output strides contiguous.
Layout full_layout(const BroadcastShape& s) {
  Layout layout;
  int64_t contiguous = 1;
  int64_t output_stride[kMaxRank] = {};
  for (int d = s.rank - 1; d >= 0; --d) {
    output_stride[d] = contiguous;
    contiguous *= s.shape[d];
  }
  for (int d = 0; d < s.rank; ++d) layout.push(s.shape[d], {output_stride[d], s.a_stride[d], s.b_stride[d]});
  return layout;
}

template <class T>
__device__ __forceinline__ T apply_binary(Binary op, T x, T y) {
  switch (op) {
    case Binary::add: return x + y;
    case Binary::subtract: return x - y;
    case Binary::multiply: return x * y;
    case Binary::divide: return x / y;
  }
  return x;
}

// d(output)/d(operand `which`) · g, with PyTorch's formulas (d/db of a/b = −g·((a/b)/b)).
template <class T>
__device__ __forceinline__ T local_gradient(Binary op, int which, T g, T x, T y) {
  switch (op) {
    case Binary::add: return g;
    case Binary::subtract: return which == 0 ? g : -g;
    case Binary::multiply: return which == 0 ? g * y : g * x;
    case Binary::divide: return which == 0 ? g / y : -g * ((x / y) / y);
  }
  return g;
}

template <class T>
__global__ void binary_forward_kernel(Binary op, Layout layout, int64_t count, const T* a, const T* b, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const Offsets o = offsets_of(layout, i);
    output[i] = apply_binary(op, a[o.a], b[o.b]);
  }
}

// Operand not broadcast: its gradient has the output's element order.
template <class T>
__global__ void binary_gradient_kernel(Binary op, int which, Layout layout, int64_t count, const T* a, const T* b,
                                       const T* grad_output, T* grad_operand) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const Offsets o = offsets_of(layout, i);
    grad_operand[i] = local_gradient(op, which, grad_output[i], a ? a[o.a] : T(0), b ? b[o.b] : T(0));
  }
}

}  // namespace

template <class T>
void binary_forward(Binary op, const BroadcastShape& s, const T* a, const T* b, T* output) {
  PNEUMA_CHECK(s.rank >= 0 && s.rank <= kMaxRank, "binary_forward (CUDA): rank %d outside [0, %d]", s.rank, kMaxRank);
  const Layout layout = full_layout(s);
  const int64_t count = layout.count();
  if (s.count() == 0) return;
  PNEUMA_LAUNCH(binary_forward_kernel<T>, grid_for(count), kThreads, 0, op, layout, count, a, b, output);
}

template <class T>
void binary_backward(Binary op, const BroadcastShape& s, int which, const T* a, const T* b, const T* grad_output,
                     T* grad_operand) {
  PNEUMA_CHECK(s.rank >= 0 && s.rank <= kMaxRank, "binary_backward (CUDA): rank %d outside [0, %d]", s.rank,
               kMaxRank);
  PNEUMA_CHECK(which == 0 || which == 1, "binary_backward (CUDA): operand index must be 0 or 1, got %d", which);
  const int64_t* operand_stride = which == 0 ? s.a_stride : s.b_stride;
  // Split the output space into the axes the operand keeps and those it is broadcast along, checking that the
  // operand's buffer is contiguous in its own shape (then its row-major kept index is its buffer offset).
  int64_t output_stride[kMaxRank] = {};
  int64_t contiguous = 1, operand_count = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    output_stride[d] = contiguous;
    contiguous *= s.shape[d];
    if (s.shape[d] == 1 || operand_stride[d] == 0) continue;
    PNEUMA_CHECK(operand_stride[d] == operand_count,
                 "binary_backward (CUDA): operand %d stride %lld on axis %d is not contiguous (expected %lld)", which,
                 static_cast<long long>(operand_stride[d]), d, static_cast<long long>(operand_count));
    operand_count *= s.shape[d];
  }
  Layout kept, reduced;
  for (int d = 0; d < s.rank; ++d) {
    Layout& target = operand_stride[d] != 0 ? kept : reduced;
    target.push(s.shape[d], {output_stride[d], s.a_stride[d], s.b_stride[d]});
  }
  const int64_t total = s.count();
  if (operand_count == 0) return;
  if (total == 0) return fill<T>(operand_count, T(0), grad_operand);
  if (reduced.rank == 0) {
    PNEUMA_LAUNCH(binary_gradient_kernel<T>, grid_for(total), kThreads, 0, op, which, full_layout(s), total, a, b,
                  grad_output, grad_operand);
    return;
  }
  reduce_columns<double, 1>(
      1, reduced.count(), operand_count,
      [=] __device__(int64_t, int64_t row, int64_t col, double(&local)[1]) {
        const Offsets k = offsets_of(kept, col), r = offsets_of(reduced, row);
        const int64_t output = k.output + r.output;
        const T x = a ? a[k.a + r.a] : T(0), y = b ? b[k.b + r.b] : T(0);
        local[0] += static_cast<double>(local_gradient(op, which, grad_output[output], x, y));
      },
      [=] __device__(int64_t, int64_t col, const Totals<double, 1>& totals) {
        grad_operand[col] = static_cast<T>(totals.value[0]);
      });
}

// ---- fills, scaling ------------------------------------------------------------------------------
namespace {
template <class T>
__global__ void fill_kernel(int64_t count, T value, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) output[i] = value;
}
template <class T>
__global__ void fill_from_scalar_kernel(int64_t count, const T* scalar, double multiplier, T* output) {
  const T value = static_cast<T>(multiplier * static_cast<double>(scalar[0]));
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) output[i] = value;
}
template <class T>
__global__ void scale_kernel(int64_t count, T alpha, const T* input, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) output[i] = alpha * input[i];
}
template <class T>
__global__ void axpy_kernel(int64_t count, T alpha, const T* x, T* y) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) y[i] += alpha * x[i];
}
}  // namespace

template <class T>
void fill(int64_t count, T value, T* output) {
  if (count <= 0) return;
  PNEUMA_LAUNCH(fill_kernel<T>, grid_for(count), kThreads, 0, count, value, output);
}
template <class T>
void fill_from_scalar(int64_t count, const T* scalar, double multiplier, T* output) {
  if (count <= 0) return;
  PNEUMA_LAUNCH(fill_from_scalar_kernel<T>, grid_for(count), kThreads, 0, count, scalar, multiplier, output);
}
template <class T>
void scale(int64_t count, T alpha, const T* input, T* output) {
  if (count <= 0) return;
  PNEUMA_LAUNCH(scale_kernel<T>, grid_for(count), kThreads, 0, count, alpha, input, output);
}
template <class T>
void axpy(int64_t count, T alpha, const T* x, T* y) {
  if (count <= 0) return;
  PNEUMA_LAUNCH(axpy_kernel<T>, grid_for(count), kThreads, 0, count, alpha, x, y);
}

#define PNEUMA_INSTANTIATE_ELEMENTWISE(T)                                                                  \
  template void binary_forward<T>(Binary, const BroadcastShape&, const T*, const T*, T*);                  \
  template void binary_backward<T>(Binary, const BroadcastShape&, int, const T*, const T*, const T*, T*);  \
  template void fill<T>(int64_t, T, T*);                                                                   \
  template void fill_from_scalar<T>(int64_t, const T*, double, T*);                                        \
  template void scale<T>(int64_t, T, const T*, T*);                                                        \
  template void axpy<T>(int64_t, T, const T*, T*);
PNEUMA_INSTANTIATE_ELEMENTWISE(float)
#undef PNEUMA_INSTANTIATE_ELEMENTWISE

}  // namespace pneuma::kernels::cuda
