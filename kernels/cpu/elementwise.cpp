// CPU elementwise kernels: broadcast binary ops and their gradients, fills, scaled copies, deterministic sums,
// strided and row copies, finiteness checks.
//
// Broadcasting works on a "coalesced" layout: size-1 axes are dropped and neighbouring axes that are contiguous
// with each other for every operand are merged, so [2,3,4,5] + [5] becomes [24,5] with strides {5,1} and {0,1},
// and the innermost run is long and unit- or zero-strided (vectorisable).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kMapGrain = 1 << 15;       // elements per thread task for pointwise maps
constexpr int64_t kSumChunk = 1 << 14;       // fixed reduction chunk: results never depend on the thread count
constexpr int64_t kManyOperandElements = 4096;  // at least this many gradient elements: parallel over them alone
constexpr int64_t kColumnBlock = 512;        // columns accumulated together when reducing over leading axes
constexpr int64_t kOperandBlock = 256;       // gradient elements per task when reducing over trailing axes

// An index space of `rank` axes with `Sets` stride vectors (one per buffer walked along).
template <int Sets>
struct StridedLayout {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[Sets][kMaxRank] = {};
  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
  }
};

// Drops size-1 axes and merges an axis into its inner neighbour when every stride set is contiguous across them.
// Always returns rank >= 1 (a scalar space becomes one axis of size 1).
template <int Sets>
StridedLayout<Sets> coalesce(const StridedLayout<Sets>& in) {
  StridedLayout<Sets> out;
  for (int d = 0; d < in.rank; ++d) {
    if (in.shape[d] == 1) continue;
    if (out.rank > 0) {
      const int last = out.rank - 1;
      bool mergeable = true;
      for (int s = 0; s < Sets; ++s) mergeable &= out.stride[s][last] == in.stride[s][d] * in.shape[d];
      if (mergeable) {
        out.shape[last] *= in.shape[d];
        for (int s = 0; s < Sets; ++s) out.stride[s][last] = in.stride[s][d];
        continue;
      }
    }
    out.shape[out.rank] = in.shape[d];
    for (int s = 0; s < Sets; ++s) out.stride[s][out.rank] = in.stride[s][d];
    ++out.rank;
  }
  if (out.rank == 0) {
    out.rank = 1;
    out.shape[0] = 1;
    for (int s = 0; s < Sets; ++s) out.stride[s][0] = 0;
  }
  return out;
}

// Walks a row-major multi-index over the first `rank` axes of a layout, tracking one offset per stride set.
template <int Sets>
struct Odometer {
  int rank = 0;
  const int64_t* shape = nullptr;
  const int64_t (*stride)[kMaxRank] = nullptr;
  int64_t index[kMaxRank] = {};
  int64_t offset[Sets] = {};

  Odometer(const StridedLayout<Sets>& layout, int axes) : rank(axes), shape(layout.shape), stride(layout.stride) {}

  void seek(int64_t linear) {
    for (int s = 0; s < Sets; ++s) offset[s] = 0;
    for (int d = rank - 1; d >= 0; --d) {
      index[d] = linear % shape[d];
      linear /= shape[d];
      for (int s = 0; s < Sets; ++s) offset[s] += index[d] * stride[s][d];
    }
  }
  void next() {
    for (int d = rank - 1; d >= 0; --d) {
      ++index[d];
      for (int s = 0; s < Sets; ++s) offset[s] += stride[s][d];
      if (index[d] < shape[d]) return;
      for (int s = 0; s < Sets; ++s) offset[s] -= stride[s][d] * shape[d];
      index[d] = 0;
    }
  }
};

// Calls row(flat_begin, offsets, length, inner_strides) for every stretch of the innermost axis, in parallel over
// the flat (row-major, contiguous) index space of the layout.
template <int Sets, class Row>
void for_each_row(const StridedLayout<Sets>& layout, Row&& row) {
  const int64_t total = layout.count();
  const int inner_axis = layout.rank - 1;
  const int64_t inner = layout.shape[inner_axis];
  int64_t inner_stride[Sets];
  for (int s = 0; s < Sets; ++s) inner_stride[s] = layout.stride[s][inner_axis];
  parallel_for(total, kMapGrain, [&](int64_t begin, int64_t end) {
    Odometer<Sets> outer(layout, inner_axis);
    outer.seek(begin / inner);
    int64_t column = begin % inner;
    for (int64_t i = begin; i < end;) {
      const int64_t length = std::min(inner - column, end - i);
      int64_t offset[Sets];
      for (int s = 0; s < Sets; ++s) offset[s] = outer.offset[s] + column * inner_stride[s];
      row(i, offset, length, inner_stride);
      i += length;
      column = 0;
      outer.next();
    }
  });
}

// Sum of a contiguous run in double, with 16 independent lanes so the loop vectorises; the lane order is fixed.
template <class T, bool Squared>
double sum_run(const T* values, int64_t count) {
  double lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    for (int l = 0; l < 16; ++l) {
      const double v = static_cast<double>(values[i + l]);
      lanes[l] += Squared ? v * v : v;
    }
  double tail = 0;
  for (; i < count; ++i) {
    const double v = static_cast<double>(values[i]);
    tail += Squared ? v * v : v;
  }
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
  return lanes[0] + tail;
}

template <class T, bool Squared>
double chunked_sum(int64_t count, const T* input) {
  const int64_t chunks = chunk_count(count, kSumChunk);
  if (chunks == 0) return 0.0;
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallel_for_chunks(count, kSumChunk, [&](int64_t chunk, int64_t begin, int64_t end) {
    partial[chunk] = sum_run<T, Squared>(input + begin, end - begin);
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// output[i] = f(a[i·sa], b[i·sb]) with the unit/zero stride cases split out so each loop vectorises.
template <class T, class F>
inline void binary_row(F f, const T* a, int64_t sa, const T* b, int64_t sb, T* output, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) output[i] = f(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const T x = a[0];
    for (int64_t i = 0; i < n; ++i) output[i] = f(x, b[i]);
  } else if (sa == 1 && sb == 0) {
    const T y = b[0];
    for (int64_t i = 0; i < n; ++i) output[i] = f(a[i], y);
  } else {
    for (int64_t i = 0; i < n; ++i) output[i] = f(a[i * sa], b[i * sb]);
  }
}

// output[i] = f(g[i], a[i·sa], b[i·sb]); g is contiguous.
template <class T, class F>
inline void ternary_row(F f, const T* g, const T* a, int64_t sa, const T* b, int64_t sb, T* output, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) output[i] = f(g[i], a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const T x = a[0];
    for (int64_t i = 0; i < n; ++i) output[i] = f(g[i], x, b[i]);
  } else if (sa == 1 && sb == 0) {
    const T y = b[0];
    for (int64_t i = 0; i < n; ++i) output[i] = f(g[i], a[i], y);
  } else {
    for (int64_t i = 0; i < n; ++i) output[i] = f(g[i], a[i * sa], b[i * sb]);
  }
}

void check_broadcast_shape(const BroadcastShape& s) {
  PNEUMA_CHECK(s.rank >= 0 && s.rank <= kMaxRank, "broadcast rank %d outside [0, %d]", s.rank, kMaxRank);
  for (int d = 0; d < s.rank; ++d)
    PNEUMA_CHECK(s.shape[d] >= 0, "broadcast shape axis %d is negative (%lld)", d, static_cast<long long>(s.shape[d]));
}

StridedLayout<2> operand_layout(const BroadcastShape& s) {
  StridedLayout<2> layout;
  layout.rank = s.rank;
  for (int d = 0; d < s.rank; ++d) {
    layout.shape[d] = s.shape[d];
    layout.stride[0][d] = s.a_stride[d];
    layout.stride[1][d] = s.b_stride[d];
  }
  return coalesce(layout);
}

// Writes output = f(g, a, b) over the broadcast output space (g and output contiguous in it).
template <class T, class F>
void broadcast_ternary(F f, const BroadcastShape& s, const T* g, const T* a, const T* b, T* output) {
  const StridedLayout<2> layout = operand_layout(s);
  for_each_row(layout, [&](int64_t i, const int64_t* offset, int64_t n, const int64_t* stride) {
    ternary_row(f, g + i, a + offset[0], stride[0], b + offset[1], stride[1], output + i, n);
  });
}

// Sums `source` (contiguous in the output shape) over the axes the operand broadcasts along, into the operand's
// contiguous buffer. Each gradient element is summed in a fixed order that depends only on the shapes, using fixed
// chunks of the reduced index space when there are too few gradient elements to keep the threads busy.
template <class T>
void reduce_to_operand(const BroadcastShape& s, const int64_t* operand_stride, const T* source, bool negate,
                       T* grad_operand) {
  // Stride set 0: the source (output-contiguous); set 1: 1 on kept axes, 0 on reduced ones (the axis class).
  StridedLayout<2> full;
  full.rank = s.rank;
  int64_t contiguous = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    full.shape[d] = s.shape[d];
    full.stride[0][d] = contiguous;
    full.stride[1][d] = operand_stride[d] != 0 ? 1 : 0;
    contiguous *= s.shape[d];
  }
  // Merge neighbours of the same class only (the class marker "1" would otherwise block merging kept axes).
  StridedLayout<2> merged;
  for (int d = 0; d < full.rank; ++d) {
    if (full.shape[d] == 1) continue;
    const bool kept = full.stride[1][d] != 0;
    if (merged.rank > 0) {
      const int last = merged.rank - 1;
      if ((merged.stride[1][last] != 0) == kept) {
        merged.shape[last] *= full.shape[d];
        merged.stride[0][last] = full.stride[0][d];
        continue;
      }
    }
    merged.shape[merged.rank] = full.shape[d];
    merged.stride[0][merged.rank] = full.stride[0][d];
    merged.stride[1][merged.rank] = kept ? 1 : 0;
    ++merged.rank;
  }
  // Split into the kept space (gradient elements, row-major = operand buffer order) and the reduced space.
  StridedLayout<1> kept_space, reduced_space;
  for (int d = 0; d < merged.rank; ++d) {
    StridedLayout<1>& target = merged.stride[1][d] != 0 ? kept_space : reduced_space;
    target.shape[target.rank] = merged.shape[d];
    target.stride[0][target.rank] = merged.stride[0][d];
    ++target.rank;
  }
  const int64_t operand_count = kept_space.count();
  const int64_t reduced_count = reduced_space.count();
  const bool innermost_kept = merged.stride[1][merged.rank - 1] != 0;
  const double sign = negate ? -1.0 : 1.0;

  std::vector<double> partial;
  int64_t chunks = 1;
  if (innermost_kept) {
    // Reducing over leading/middle axes (bias-style): accumulate whole rows of the innermost kept axis.
    const int64_t width = kept_space.shape[kept_space.rank - 1];
    const int64_t outer_count = operand_count / width;
    const int64_t rows_per_chunk =
        operand_count >= kManyOperandElements ? reduced_count : std::max<int64_t>(1, (1 << 16) / operand_count);
    chunks = chunk_count(reduced_count, rows_per_chunk);
    partial.resize(static_cast<size_t>(chunks * operand_count));
    const int64_t column_blocks = chunk_count(width, kColumnBlock);
    const int64_t tasks = chunks * outer_count * column_blocks;
    const int64_t grain = std::max<int64_t>(1, kMapGrain / std::max<int64_t>(1, rows_per_chunk * kColumnBlock));
    parallel_for(tasks, grain, [&](int64_t task_begin, int64_t task_end) {
      double accumulator[kColumnBlock];
      Odometer<1> kept_outer(kept_space, kept_space.rank - 1);
      Odometer<1> reduced(reduced_space, reduced_space.rank);
      for (int64_t task = task_begin; task < task_end; ++task) {
        const int64_t column_block = task % column_blocks;
        const int64_t outer = (task / column_blocks) % outer_count;
        const int64_t chunk = task / (column_blocks * outer_count);
        const int64_t column_begin = column_block * kColumnBlock;
        const int64_t columns = std::min(kColumnBlock, width - column_begin);
        kept_outer.seek(outer);
        const T* base = source + kept_outer.offset[0] + column_begin;
        const int64_t row_begin = chunk * rows_per_chunk;
        const int64_t row_end = std::min(reduced_count, row_begin + rows_per_chunk);
        for (int64_t c = 0; c < columns; ++c) accumulator[c] = 0;
        reduced.seek(row_begin);
        for (int64_t r = row_begin; r < row_end; ++r) {
          const T* row = base + reduced.offset[0];
          for (int64_t c = 0; c < columns; ++c) accumulator[c] += static_cast<double>(row[c]);
          reduced.next();
        }
        double* destination = partial.data() + chunk * operand_count + outer * width + column_begin;
        for (int64_t c = 0; c < columns; ++c) destination[c] = accumulator[c];
      }
    });
  } else {
    // Reducing over trailing axes (row sums, or everything for a scalar): sum contiguous runs per element.
    const int64_t run = reduced_space.shape[reduced_space.rank - 1];
    const int64_t span = operand_count >= kManyOperandElements ? reduced_count : kSumChunk;
    chunks = chunk_count(reduced_count, span);
    partial.resize(static_cast<size_t>(chunks * operand_count));
    const int64_t operand_blocks = chunk_count(operand_count, kOperandBlock);
    const int64_t tasks = chunks * operand_blocks;
    parallel_for(tasks, 1, [&](int64_t task_begin, int64_t task_end) {
      Odometer<1> kept(kept_space, kept_space.rank);
      Odometer<1> reduced_outer(reduced_space, reduced_space.rank - 1);
      for (int64_t task = task_begin; task < task_end; ++task) {
        const int64_t block = task % operand_blocks;
        const int64_t chunk = task / operand_blocks;
        const int64_t element_begin = block * kOperandBlock;
        const int64_t element_end = std::min(operand_count, element_begin + kOperandBlock);
        const int64_t linear_begin = chunk * span;
        const int64_t linear_end = std::min(reduced_count, linear_begin + span);
        kept.seek(element_begin);
        for (int64_t element = element_begin; element < element_end; ++element) {
          const T* base = source + kept.offset[0];
          double total = 0;
          reduced_outer.seek(linear_begin / run);
          for (int64_t linear = linear_begin; linear < linear_end;) {
            const int64_t column = linear % run;
            const int64_t length = std::min(run - column, linear_end - linear);
            total += sum_run<T, false>(base + reduced_outer.offset[0] + column, length);
            linear += length;
            reduced_outer.next();
          }
          partial[chunk * operand_count + element] = total;
          kept.next();
        }
      }
    });
  }
  // Combine chunk partials in chunk order.
  parallel_for(operand_count, kMapGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double total = 0;
      for (int64_t c = 0; c < chunks; ++c) total += partial[c * operand_count + i];
      grad_operand[i] = static_cast<T>(sign * total);
    }
  });
}

}  // namespace

template <class T>
void binary_forward(Binary op, const BroadcastShape& s, const T* a, const T* b, T* output) {
  check_broadcast_shape(s);
  const StridedLayout<2> layout = operand_layout(s);
  if (layout.count() == 0) return;
  auto run = [&](auto f) {
    for_each_row(layout, [&](int64_t i, const int64_t* offset, int64_t n, const int64_t* stride) {
      binary_row(f, a + offset[0], stride[0], b + offset[1], stride[1], output + i, n);
    });
  };
  switch (op) {
    case Binary::add: run([](T x, T y) { return x + y; }); return;
    case Binary::subtract: run([](T x, T y) { return x - y; }); return;
    case Binary::multiply: run([](T x, T y) { return x * y; }); return;
    case Binary::divide: run([](T x, T y) { return x / y; }); return;
  }
  PNEUMA_FAIL("unknown binary op %d", static_cast<int>(op));
}

template <class T>
void binary_backward(Binary op, const BroadcastShape& s, int which, const T* a, const T* b, const T* grad_output,
                     T* grad_operand) {
  check_broadcast_shape(s);
  PNEUMA_CHECK(which == 0 || which == 1, "binary_backward: operand index must be 0 or 1, got %d", which);
  PNEUMA_CHECK(op == Binary::add || op == Binary::subtract || op == Binary::multiply || op == Binary::divide,
               "unknown binary op %d", static_cast<int>(op));
  const int64_t* operand_stride = which == 0 ? s.a_stride : s.b_stride;
  // The operand's buffer must be contiguous in its own (un-broadcast) shape; then its row-major kept index is its
  // buffer offset.
  int64_t operand_count = 1;
  bool reduces = false;
  for (int d = s.rank - 1; d >= 0; --d) {
    if (s.shape[d] == 1) continue;
    if (operand_stride[d] == 0) {
      reduces = true;
      continue;
    }
    PNEUMA_CHECK(operand_stride[d] == operand_count,
                 "binary_backward: operand %d stride %lld on axis %d is not contiguous (expected %lld)", which,
                 static_cast<long long>(operand_stride[d]), d, static_cast<long long>(operand_count));
    operand_count *= s.shape[d];
  }
  const int64_t total = s.count();
  if (operand_count == 0) return;
  if (total == 0) {  // broadcast against an empty axis: nothing flows back
    fill<T>(operand_count, T(0), grad_operand);
    return;
  }
  const bool negate = op == Binary::subtract && which == 1;
  const bool needs_local_gradient = op == Binary::multiply || op == Binary::divide;

  // The per-output-element gradient contribution, written to `destination` (output-shaped).
  auto local_gradient = [&](T* destination) {
    if (op == Binary::multiply) {
      if (which == 0) broadcast_ternary([](T g, T, T y) { return g * y; }, s, grad_output, a, b, destination);
      else broadcast_ternary([](T g, T x, T) { return g * x; }, s, grad_output, a, b, destination);
    } else {
      // PyTorch: d/da = g / b, d/db = −g · ((a / b) / b).
      if (which == 0) broadcast_ternary([](T g, T, T y) { return g / y; }, s, grad_output, a, b, destination);
      else broadcast_ternary([](T g, T x, T y) { return -g * ((x / y) / y); }, s, grad_output, a, b, destination);
    }
  };

  if (!reduces) {  // same layout as the output
    if (needs_local_gradient) local_gradient(grad_operand);
    else scale<T>(total, negate ? T(-1) : T(1), grad_output, grad_operand);
    return;
  }
  if (!needs_local_gradient) {
    reduce_to_operand(s, operand_stride, grad_output, negate, grad_operand);
    return;
  }
  std::vector<T> local(static_cast<size_t>(total));
  local_gradient(local.data());
  reduce_to_operand(s, operand_stride, local.data(), false, grad_operand);
}

template <class T>
void fill(int64_t count, T value, T* output) {
  parallel_for(count, kMapGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) output[i] = value;
  });
}

template <class T>
void scale(int64_t count, T alpha, const T* input, T* output) {
  parallel_for(count, kMapGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) output[i] = alpha * input[i];
  });
}

template <class T>
void axpy(int64_t count, T alpha, const T* x, T* y) {
  parallel_for(count, kMapGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] += alpha * x[i];
  });
}

template <class T>
double sum(int64_t count, const T* input) {
  return chunked_sum<T, false>(count, input);
}

template <class T>
double sum_of_squares(int64_t count, const T* input) {
  return chunked_sum<T, true>(count, input);
}

template <class T>
void copy_strided(int rank, const int64_t* shape, const int64_t* source_strides, const T* source, T* destination) {
  PNEUMA_CHECK(rank >= 0 && rank <= kMaxRank, "copy_strided: rank %d outside [0, %d]", rank, kMaxRank);
  StridedLayout<1> layout;
  layout.rank = rank;
  for (int d = 0; d < rank; ++d) {
    PNEUMA_CHECK(shape[d] >= 0, "copy_strided: axis %d has negative size %lld", d, static_cast<long long>(shape[d]));
    layout.shape[d] = shape[d];
    layout.stride[0][d] = source_strides[d];
  }
  if (layout.count() == 0) return;
  layout = coalesce(layout);
  for_each_row(layout, [&](int64_t i, const int64_t* offset, int64_t n, const int64_t* stride) {
    const T* from = source + offset[0];
    T* to = destination + i;
    if (stride[0] == 1) std::memcpy(to, from, static_cast<size_t>(n) * sizeof(T));
    else
      for (int64_t k = 0; k < n; ++k) to[k] = from[k * stride[0]];
  });
}

template <class T>
void copy_rows(int64_t rows, int64_t width, const T* source, int64_t source_stride, T* destination,
               int64_t destination_stride) {
  PNEUMA_CHECK(rows >= 0 && width >= 0, "copy_rows: negative size (rows %lld, width %lld)",
               static_cast<long long>(rows), static_cast<long long>(width));
  if (rows == 0 || width == 0) return;
  const int64_t grain = std::max<int64_t>(1, kMapGrain / width);
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      std::memcpy(destination + r * destination_stride, source + r * source_stride,
                  static_cast<size_t>(width) * sizeof(T));
  });
}

namespace {
// Non-finite means all exponent bits set; tested on the bits so the loop vectorises.
template <class Bits, class T, Bits ExponentMask>
bool all_finite_bits(int64_t count, const T* input) {
  const int64_t chunks = chunk_count(count, kSumChunk);
  std::vector<char> bad(static_cast<size_t>(chunks), 0);
  parallel_for_chunks(count, kSumChunk, [&](int64_t chunk, int64_t begin, int64_t end) {
    int found = 0;
    for (int64_t i = begin; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, input + i, sizeof(Bits));
      found |= (bits & ExponentMask) == ExponentMask;
    }
    bad[chunk] = static_cast<char>(found);
  });
  return std::none_of(bad.begin(), bad.end(), [](char b) { return b != 0; });
}
}  // namespace

bool all_finite(int64_t count, const float* input) {
  return all_finite_bits<uint32_t, float, 0x7f800000u>(count, input);
}
bool all_finite(int64_t count, const double* input) {
  return all_finite_bits<uint64_t, double, 0x7ff0000000000000ull>(count, input);
}

#define PNEUMA_INSTANTIATE_ELEMENTWISE(T)                                                                    \
  template void binary_forward<T>(Binary, const BroadcastShape&, const T*, const T*, T*);                    \
  template void binary_backward<T>(Binary, const BroadcastShape&, int, const T*, const T*, const T*, T*);    \
  template void fill<T>(int64_t, T, T*);                                                                     \
  template void scale<T>(int64_t, T, const T*, T*);                                                          \
  template void axpy<T>(int64_t, T, const T*, T*);                                                           \
  template double sum<T>(int64_t, const T*);                                                                 \
  template double sum_of_squares<T>(int64_t, const T*);                                                      \
  template void copy_strided<T>(int, const int64_t*, const int64_t*, const T*, T*);                          \
  template void copy_rows<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t);
PNEUMA_INSTANTIATE_ELEMENTWISE(float)
PNEUMA_INSTANTIATE_ELEMENTWISE(double)
#undef PNEUMA_INSTANTIATE_ELEMENTWISE

}  // namespace pneuma::kernels::cpu
