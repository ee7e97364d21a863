// Our own GEMM: C = alpha · op(A) · op(B) + beta · C, row-major, BLIS-style.
//
//   for each column block (nc columns of C):
//     for each depth block (kc of the k dimension):
//       pack op(B) into strips of `columns` (the register-tile width), shared by all threads
//       in parallel over row blocks of C (each thread packs its own slice of op(A) into strips of `rows`):
//         for each row strip: for each column strip: micro-kernel (rows × columns tile held in registers)
//
// Packing is skipped where it cannot pay for itself: A strips are read in place (row-major or transposed) when
// they meet at most two B strips or are short in k, and B strips when C has few rows. Only full strips are read
// in place; edges are packed with zero padding. A small C with a long k (weight gradients) is split along k
// instead, see try_split_k.
//
// The micro-kernel accumulates in GCC vector-extension registers, so it compiles to the machine's widest SIMD
// (AVX-512 with -march=native, AVX2 or SSE elsewhere) without intrinsics. Every element of C is computed by one
// thread with a summation order that depends only on the blocking constants, never on the thread count, so the
// result is bit-identical for any number of threads and on repeated calls.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/split_k.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

// Register tile: `rows` rows of C × `vectors` SIMD vectors of columns. rows·vectors accumulators plus the B
// vectors and one broadcast must fit in the register file (32 vector registers with AVX-512, 16 otherwise).
template <class T>
struct Blocking {
  static constexpr int vectors = 2;
  static constexpr int rows = widest_simd_bytes == 64 ? 8 : 4;
  static constexpr int columns = vectors * lanes_of<T>;  // width of a packed B strip
  // depth of one packed block: a rows×depth A strip stays in L1 while it sweeps the kc×nc B block in L2.
  static constexpr int64_t depth = sizeof(T) == 4 ? 384 : 256;
  static constexpr int64_t column_block = sizeof(T) == 4 ? 512 : 384;  // nc, a multiple of `columns`
  static constexpr int64_t row_block = 16 * rows;                       // rows of C one task handles
};

// Writes one finished tile: C = alpha·tile + beta·C for the valid_rows × valid_columns corner. beta == 0 never
// reads C (it may hold garbage or NaN).
template <class T, int rows, int vectors, int bytes>
inline void store_tile(const Vector<T, bytes> (&tile)[rows][vectors], int64_t valid_rows, int64_t valid_columns,
                       T alpha, T beta, T* c, int64_t ldc) {
  using V = Vector<T, bytes>;
  constexpr int step = lanes_of<T, bytes>;
  constexpr int width = vectors * step;
  if (valid_rows == rows && valid_columns == width) {
    for (int i = 0; i < rows; ++i)
      for (int v = 0; v < vectors; ++v) {
        T* target = c + i * ldc + v * step;
        V result = alpha * tile[i][v];
        if (beta != T(0)) result += beta * load<V>(target);
        store(target, result);
      }
    return;
  }
  alignas(64) T buffer[rows][width];
  for (int i = 0; i < rows; ++i)
    for (int v = 0; v < vectors; ++v) store(&buffer[i][v * step], tile[i][v]);
  for (int64_t i = 0; i < valid_rows; ++i)
    for (int64_t j = 0; j < valid_columns; ++j) {
      T& target = c[i * ldc + j];
      target = beta == T(0) ? alpha * buffer[i][j] : alpha * buffer[i][j] + beta * target;
    }
}

// Where a micro-kernel finds the A values of its strip: A value (i, p) is at
//   packed:       a[p·rows + i]   (pack_a output)
//   row_major:    a[i·lda + p]    (op(A) = A, read in place)
//   column_major: a[p·lda + i]    (op(A) = Aᵀ, read in place)
enum class ALayout { packed, row_major, column_major };

// tile = Σ_p op(A)[i][p] · B[p][0 .. vectors·lanes) for one strip of `rows` rows; B row p starts at
// b + p·b_stride (a packed strip, or op(B) itself). `vectors` × `bytes` may be narrower than a packed strip.
template <class T, int rows, int vectors, int bytes, ALayout layout>
inline void micro_kernel(int64_t depth, const T* __restrict a, int64_t lda, const T* __restrict b, int64_t b_stride,
                         int64_t valid_rows, int64_t valid_columns, T alpha, T beta, T* c, int64_t ldc) {
  using V = Vector<T, bytes>;
  constexpr int step = lanes_of<T, bytes>;
  V tile[rows][vectors];
  for (int i = 0; i < rows; ++i)
    for (int v = 0; v < vectors; ++v) tile[i][v] = V{};
  for (int64_t p = 0; p < depth; ++p) {
    V b_row[vectors];
    for (int v = 0; v < vectors; ++v) b_row[v] = load<V>(b + p * b_stride + v * step);
    for (int i = 0; i < rows; ++i) {
      const T a_value = layout == ALayout::packed      ? a[p * rows + i]
                        : layout == ALayout::row_major ? a[i * lda + p]
                                                       : a[p * lda + i];
      for (int v = 0; v < vectors; ++v) tile[i][v] += a_value * b_row[v];
    }
  }
  store_tile<T, rows, vectors, bytes>(tile, valid_rows, valid_columns, alpha, beta, c, ldc);
}

// Picks the narrowest register tile that covers `valid_columns`: full strips use two full-width vectors; a last,
// narrow strip uses one full vector, or three or one half-width vectors (on machines that double-pump 512-bit
// FMAs, such as AMD Zen 4, half-width vectors cost nothing in throughput), so little work goes to padding.
template <class T, ALayout layout>
inline void tile_multiply(int64_t depth, const T* a, int64_t lda, const T* b, int64_t b_stride, int64_t valid_rows,
                          int64_t valid_columns, T alpha, T beta, T* c, int64_t ldc) {
  constexpr int rows = Blocking<T>::rows;
  constexpr int full = lanes_of<T>;
  if constexpr (widest_simd_bytes >= 32) {
    constexpr int half = full / 2;
    if (valid_columns <= half)
      return micro_kernel<T, rows, 1, widest_simd_bytes / 2, layout>(depth, a, lda, b, b_stride, valid_rows, valid_columns,
                                                              alpha, beta, c, ldc);
    if (valid_columns > full && valid_columns <= 3 * half)
      return micro_kernel<T, rows, 3, widest_simd_bytes / 2, layout>(depth, a, lda, b, b_stride, valid_rows, valid_columns,
                                                              alpha, beta, c, ldc);
  }
  if (valid_columns <= full)
    return micro_kernel<T, rows, 1, widest_simd_bytes, layout>(depth, a, lda, b, b_stride, valid_rows, valid_columns, alpha,
                                                        beta, c, ldc);
  micro_kernel<T, rows, Blocking<T>::vectors, widest_simd_bytes, layout>(depth, a, lda, b, b_stride, valid_rows,
                                                                  valid_columns, alpha, beta, c, ldc);
}

// Packs op(A)[row0 .. row0+count, p0 .. p0+depth) into strips of `rows` rows: strip s holds, for each p, the
// `rows` values of that column contiguously. Rows past `count` are zero.
template <class T>
void pack_a(bool transpose, const T* a, int64_t lda, int64_t row0, int64_t count, int64_t p0, int64_t depth,
            T* packed) {
  constexpr int rows = Blocking<T>::rows;
  const int64_t full_strips = count / rows;
  if (!transpose) {  // op(A)[i][p] = a[i·lda + p]: each row is contiguous in p
    for (int64_t strip = 0; strip < full_strips; ++strip)
      for (int64_t i = 0; i < rows; ++i) {
        const T* source = a + (row0 + strip * rows + i) * lda + p0;
        T* out = packed + strip * rows * depth + i;
        for (int64_t p = 0; p < depth; ++p) out[p * rows] = source[p];
      }
  } else {  // op(A)[i][p] = a[p·lda + i]: row p of a holds the values of every strip; read it once, in order
    for (int64_t p = 0; p < depth; ++p) {
      const T* source = a + (p0 + p) * lda + row0;
      for (int64_t strip = 0; strip < full_strips; ++strip)
        for (int i = 0; i < rows; ++i) packed[(strip * depth + p) * rows + i] = source[strip * rows + i];
    }
  }
  const int64_t tail = count - full_strips * rows;  // last, partial strip: zero-padded
  if (tail > 0) {
    T* out = packed + full_strips * rows * depth;
    for (int64_t p = 0; p < depth; ++p)
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t row = row0 + full_strips * rows + i;
        out[p * rows + i] = i >= tail ? T(0) : transpose ? a[(p0 + p) * lda + row] : a[row * lda + p0 + p];
      }
  }
}

// Packs op(B)[p0 .. p0+depth, column0 + strip·columns ..] for strips [strip_begin, strip_end) into strips of
// `columns` columns: for each p, `columns` contiguous values. Columns past `count` are zero.
template <class T>
void pack_b(bool transpose, const T* b, int64_t ldb, int64_t p0, int64_t depth, int64_t column0, int64_t count,
            int64_t strip_begin, int64_t strip_end, T* packed) {
  constexpr int columns = Blocking<T>::columns;
  for (int64_t strip = strip_begin; strip < strip_end; ++strip) {
    const int64_t first = strip * columns;
    const int64_t valid = std::min<int64_t>(columns, count - first);
    T* out = packed + first * depth;
    if (!transpose) {  // op(B)[p][j] = b[p·ldb + j]
      for (int64_t p = 0; p < depth; ++p) {
        const T* source = b + (p0 + p) * ldb + column0 + first;
        T* row = out + p * columns;
        for (int64_t j = 0; j < valid; ++j) row[j] = source[j];
        for (int64_t j = valid; j < columns; ++j) row[j] = T(0);
      }
    } else {  // op(B)[p][j] = b[j·ldb + p]
      for (int64_t j = 0; j < valid; ++j) {
        const T* source = b + (column0 + first + j) * ldb + p0;
        for (int64_t p = 0; p < depth; ++p) out[p * columns + j] = source[p];
      }
      for (int64_t p = 0; p < depth; ++p)
        for (int64_t j = valid; j < columns; ++j) out[p * columns + j] = T(0);
    }
  }
}

// Buffers grow once and are reused; one set per thread, so concurrent callers never share them.
template <class T>
std::vector<T>& a_pack_buffer() {
  thread_local std::vector<T> buffer;
  return buffer;
}
template <class T>
std::vector<T>& b_pack_buffer() {
  thread_local std::vector<T> buffer;
  return buffer;
}

template <class T>
void scale_output(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

// The blocked multiply. Threads split the row blocks of C (and, when C has few rows, its column strips).
template <class T>
void gemm_blocked(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using B = Blocking<T>;
  constexpr int rows = B::rows;
  constexpr int columns = B::columns;
  const int threads = in_parallel_region() ? 1 : max_threads();
  std::vector<T>& b_packed = b_pack_buffer<T>();
  const int64_t column_block = std::min<int64_t>(B::column_block, (n + columns - 1) / columns * columns);
  const int64_t depth_block = std::min<int64_t>(B::depth, k);
  if (b_packed.size() < static_cast<size_t>(column_block * depth_block)) b_packed.resize(column_block * depth_block);
  // With few rows of C each B value is used only a few times: read full B strips in place.
  const bool b_in_place = !transpose_b && m <= 8 * rows;

  // Row blocks are the parallel tasks; when C has few rows, each row block is also split into column groups so
  // that both threads get work (each group repacks its A slice, which is cheap next to the multiply).
  const int64_t row_block = std::min<int64_t>(B::row_block, (m + rows - 1) / rows * rows);
  const int64_t row_blocks = (m + row_block - 1) / row_block;

  for (int64_t column0 = 0; column0 < n; column0 += column_block) {
    const int64_t block_columns = std::min(column_block, n - column0);
    const int64_t strips = (block_columns + columns - 1) / columns;
    const int64_t full_strips = block_columns / columns;
    const int64_t column_groups =
        std::min<int64_t>(strips, std::max<int64_t>(1, (2 * threads + row_blocks - 1) / row_blocks));
    for (int64_t p0 = 0; p0 < k; p0 += depth_block) {
      const int64_t depth = std::min(depth_block, k - p0);
      const T step_beta = p0 == 0 ? beta : T(1);
      // One strip of B is depth·columns values; pack in parallel when there is enough of it.
      const int64_t first_packed_strip = b_in_place ? full_strips : 0;
      parallel_for(strips - first_packed_strip, std::max<int64_t>(1, 16384 / (depth * columns)),
                   [&](int64_t begin, int64_t end) {
                     pack_b(transpose_b, b, ldb, p0, depth, column0, block_columns, first_packed_strip + begin,
                            first_packed_strip + end, b_packed.data());
                   });
      const int64_t flops_per_task = 2 * row_block * depth * block_columns / column_groups;
      const int64_t grain = std::max<int64_t>(1, 200000 / std::max<int64_t>(1, flops_per_task));
      parallel_for(row_blocks * column_groups, grain, [&](int64_t task_begin, int64_t task_end) {
        std::vector<T>& a_packed = a_pack_buffer<T>();
        if (a_packed.size() < static_cast<size_t>(row_block * depth)) a_packed.resize(row_block * depth);
        for (int64_t task = task_begin; task < task_end; ++task) {
          const int64_t row0 = (task / column_groups) * row_block;
          const int64_t group = task % column_groups;
          const int64_t strip_begin = strips * group / column_groups;
          const int64_t strip_end = strips * (group + 1) / column_groups;
          const int64_t block_rows = std::min(row_block, m - row0);
          // A strips are read in place (full strips only) when packing would not pay: they meet at most two B
          // strips, or they are short (a strip of depth ≤ 64 stays in L1 by itself).
          const bool a_in_place = strip_end - strip_begin <= 2 || depth <= 64;
          if (!a_in_place) pack_a(transpose_a, a, lda, row0, block_rows, p0, depth, a_packed.data());
          for (int64_t i = 0; i < block_rows; i += rows) {
            const int64_t valid_rows = std::min<int64_t>(rows, block_rows - i);
            const bool in_place = a_in_place && valid_rows == rows;
            if (a_in_place && !in_place)
              pack_a(transpose_a, a, lda, row0 + i, valid_rows, p0, depth, a_packed.data() + i * depth);
            const T* a_strip = !in_place     ? a_packed.data() + i * depth
                               : transpose_a ? a + p0 * lda + row0 + i
                                             : a + (row0 + i) * lda + p0;
            for (int64_t strip = strip_begin; strip < strip_end; ++strip) {
              const int64_t j = strip * columns;
              const int64_t valid_columns = std::min<int64_t>(columns, block_columns - j);
              const bool b_strip_in_place = b_in_place && strip < full_strips;
              const T* b_strip = b_strip_in_place ? b + p0 * ldb + column0 + j : b_packed.data() + j * depth;
              const int64_t b_stride = b_strip_in_place ? ldb : columns;
              T* c_tile = c + (row0 + i) * ldc + column0 + j;
              if (!in_place)
                tile_multiply<T, ALayout::packed>(depth, a_strip, 0, b_strip, b_stride, valid_rows, valid_columns,
                                                  alpha, step_beta, c_tile, ldc);
              else if (transpose_a)
                tile_multiply<T, ALayout::column_major>(depth, a_strip, lda, b_strip, b_stride, valid_rows,
                                                        valid_columns, alpha, step_beta, c_tile, ldc);
              else
                tile_multiply<T, ALayout::row_major>(depth, a_strip, lda, b_strip, b_stride, valid_rows,
                                                     valid_columns, alpha, step_beta, c_tile, ldc);
            }
          }
        }
      });
    }
  }
}

// ---- split-k: a small C with a long k ---------------------------------------------------------------------------
// Weight gradients have C = channels × channels and k = every pixel of the batch. Too few tiles of C to share out,
// so k is cut into at most 16 fixed chunks whose partial products are summed in chunk order; the chunking depends
// only on the shape, so the result is still the same for any thread count.
//
// The usual case there is op(A) = Aᵀ, op(B) = B: both operands are stored depth-major, so each depth step is the
// outer product of two contiguous rows. Packing would copy all of A and B (each value is used only a few dozen
// times), so instead the longer row (`wide`) is loaded as vectors and the shorter (`narrow`) broadcast, both in
// place, into sums laid out [narrow][wide]. Edges are copied into small zero-padded buffers.

constexpr int64_t outer_product_depth = 256;  // depth rows per pass over all tiles (they stay in L2)

template <class T, int vectors, int narrow_count>
inline void outer_product_tile(int64_t depth, const T* __restrict wide, int64_t wide_stride,
                               const T* __restrict narrow, int64_t narrow_stride, T* sums, int64_t sums_stride) {
  using V = Vector<T>;
  constexpr int step = lanes_of<T>;
  V tile[narrow_count][vectors];
  for (int j = 0; j < narrow_count; ++j)
    for (int v = 0; v < vectors; ++v) tile[j][v] = V{};
  for (int64_t p = 0; p < depth; ++p) {
    V w[vectors];
    for (int v = 0; v < vectors; ++v) w[v] = load<V>(wide + p * wide_stride + v * step);
    for (int j = 0; j < narrow_count; ++j) {
      const T value = narrow[p * narrow_stride + j];
      for (int v = 0; v < vectors; ++v) tile[j][v] += value * w[v];
    }
  }
  for (int j = 0; j < narrow_count; ++j)
    for (int v = 0; v < vectors; ++v) {
      T* target = sums + j * sums_stride + v * step;
      store(target, load<V>(target) + tile[j][v]);
    }
}

template <class T, int narrow_count>
inline void outer_product_row(int64_t depth, const T* wide, int64_t wide_stride, int64_t wide_vectors,
                              const T* narrow, int64_t narrow_stride, T* sums, int64_t sums_stride) {
  constexpr int step = lanes_of<T>;
  int64_t v = 0;
  for (; v + 2 <= wide_vectors; v += 2)
    outer_product_tile<T, 2, narrow_count>(depth, wide + v * step, wide_stride, narrow, narrow_stride,
                                           sums + v * step, sums_stride);
  if (v < wide_vectors)
    outer_product_tile<T, 1, narrow_count>(depth, wide + v * step, wide_stride, narrow, narrow_stride,
                                           sums + v * step, sums_stride);
}

// sums[j][i] += Σ_p wide[p·wide_ld + i] · narrow[p·narrow_ld + j] for i < wide_count, j < narrow_count.
// sums is [round_up(narrow_count, 4)][wide_padded], wide_padded = round_up(wide_count, lanes).
template <class T>
void outer_product_sum(int64_t depth, const T* wide, int64_t wide_ld, int64_t wide_count, const T* narrow,
                       int64_t narrow_ld, int64_t narrow_count, T* sums, int64_t wide_padded) {
  constexpr int step = lanes_of<T>;
  constexpr int narrow_block = 12;
  const int64_t wide_full = wide_count / step * step;
  const int64_t wide_tail = wide_count - wide_full;
  const int64_t narrow_full = narrow_count / narrow_block * narrow_block;
  const int64_t narrow_tail = narrow_count - narrow_full;
  // Zero-padded copies of the last partial wide vector and narrow block; the padding stays zero, only the valid
  // columns are refreshed for each depth block.
  thread_local std::vector<T> wide_edge, narrow_edge;
  wide_edge.assign(outer_product_depth * step, T(0));
  narrow_edge.assign(outer_product_depth * narrow_block, T(0));
  for (int64_t p0 = 0; p0 < depth; p0 += outer_product_depth) {
    const int64_t rows = std::min(outer_product_depth, depth - p0);
    const T* wide_rows = wide + p0 * wide_ld;
    const T* narrow_rows = narrow + p0 * narrow_ld;
    for (int64_t p = 0; p < rows; ++p) {
      for (int64_t i = 0; i < wide_tail; ++i) wide_edge[p * step + i] = wide_rows[p * wide_ld + wide_full + i];
      for (int64_t j = 0; j < narrow_tail; ++j)
        narrow_edge[p * narrow_block + j] = narrow_rows[p * narrow_ld + narrow_full + j];
    }
    // One block of narrow values against every wide vector (in place) and the padded wide edge.
    auto block = [&]<int count>(const T* narrow_block_rows, int64_t narrow_stride, int64_t j) {
      outer_product_row<T, count>(rows, wide_rows, wide_ld, wide_full / step, narrow_block_rows, narrow_stride,
                                  sums + j * wide_padded, wide_padded);
      if (wide_tail > 0)
        outer_product_tile<T, 1, count>(rows, wide_edge.data(), step, narrow_block_rows, narrow_stride,
                                        sums + j * wide_padded + wide_full, wide_padded);
    };
    for (int64_t j = 0; j < narrow_full; j += narrow_block)
      block.template operator()<narrow_block>(narrow_rows + j, narrow_ld, j);
    if (narrow_tail > 8)
      block.template operator()<12>(narrow_edge.data(), narrow_block, narrow_full);
    else if (narrow_tail > 4)
      block.template operator()<8>(narrow_edge.data(), narrow_block, narrow_full);
    else if (narrow_tail > 0)
      block.template operator()<4>(narrow_edge.data(), narrow_block, narrow_full);
  }
}

template <class T>
bool try_split_k(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using B = Blocking<T>;
  constexpr int64_t max_chunks = 16;
  if (m * n > 65536 || k < 8 * std::max(m, n) || k < 4 * B::depth) return false;
  const int64_t granule = std::max<int64_t>(B::depth, outer_product_depth);
  const int64_t granules = (k + granule - 1) / granule;
  const int64_t chunk = granule * ((granules + max_chunks - 1) / max_chunks);
  const int64_t chunks = chunk_count(k, chunk);
  thread_local std::vector<T> partials;

  if (transpose_a && !transpose_b) {
    // Vectors run along the longer side of C; sums are [narrow][wide] and transposed back on the way out.
    const bool wide_is_a = m >= n;
    const int64_t wide_count = wide_is_a ? m : n, narrow_count = wide_is_a ? n : m;
    const int64_t wide_padded = (wide_count + lanes_of<T> - 1) / lanes_of<T> * lanes_of<T>;
    const int64_t size = (narrow_count + 3) / 4 * 4 * wide_padded;
    partials.assign(chunks * size, T(0));
    T* partial = partials.data();  // (a thread_local named inside the lambdas would be each worker's own)
    parallel_for_chunks(k, chunk, [&](int64_t index, int64_t begin, int64_t end) {
      const T* a_chunk = a + begin * lda;
      const T* b_chunk = b + begin * ldb;
      T* sums = partial + index * size;
      if (wide_is_a)
        outer_product_sum(end - begin, a_chunk, lda, m, b_chunk, ldb, n, sums, wide_padded);
      else
        outer_product_sum(end - begin, b_chunk, ldb, n, a_chunk, lda, m, sums, wide_padded);
    });
    sum_split_k_partials(
        m, n, chunks, size, partial,
        [=](int64_t i, int64_t j) { return wide_is_a ? j * wide_padded + i : i * wide_padded + j; }, alpha, beta, c,
        ldc);
    return true;
  }

  if (partials.size() < static_cast<size_t>(chunks * m * n)) partials.resize(chunks * m * n);
  T* partial = partials.data();
  parallel_for_chunks(k, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    const T* a_chunk = transpose_a ? a + begin * lda : a + begin;
    const T* b_chunk = transpose_b ? b + begin : b + begin * ldb;
    gemm_blocked(transpose_a, transpose_b, m, n, end - begin, T(1), a_chunk, lda, b_chunk, ldb, T(0),
                 partial + index * m * n, n);
  });
  sum_split_k_partials(m, n, chunks, m * n, partial, [n](int64_t i, int64_t j) { return i * n + j; }, alpha, beta, c,
                       ldc);
  return true;
}

}  // namespace

template <class T>
void gemm_portable(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  PNEUMA_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=%lld n=%lld k=%lld", (long long)m, (long long)n,
               (long long)k);
  PNEUMA_CHECK(ldc >= std::max<int64_t>(1, n), "gemm: ldc=%lld < n=%lld", (long long)ldc, (long long)n);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    scale_output(m, n, beta, c, ldc);
    return;
  }
  PNEUMA_CHECK(lda >= (transpose_a ? m : k), "gemm: lda=%lld too small", (long long)lda);
  PNEUMA_CHECK(ldb >= (transpose_b ? k : n), "gemm: ldb=%lld too small", (long long)ldb);
  if (try_split_k(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  gemm_blocked(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm_portable<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                   const float*, int64_t, float, float*, int64_t);
template void gemm_portable<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                    const double*, int64_t, double, double*, int64_t);

}  // namespace pneuma::kernels::cpu
