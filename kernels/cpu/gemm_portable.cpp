// Our own GEMM: C = alpha · op(A) · op(B) + beta · C, row-major, BLIS-style.
//
//   for each column block jc (nc columns of C):
//     for each depth block pc (kc of the k dimension):
//       pack op(B)[pc.., jc..] into strips of `columns` (register-tile width), shared by all threads
//       in parallel over row blocks of C (each thread packs its own slice of op(A) into strips of `rows`):
//         for each row strip: for each column strip: micro-kernel (rows × columns tile held in registers)
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
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int simd_bytes = 64;
#elif defined(__AVX__)
constexpr int simd_bytes = 32;
#else
constexpr int simd_bytes = 16;
#endif

template <class T>
struct Simd;
template <>
struct Simd<float> {
  typedef float type __attribute__((vector_size(simd_bytes)));
};
template <>
struct Simd<double> {
  typedef double type __attribute__((vector_size(simd_bytes)));
};

template <class T>
using Vector = typename Simd<T>::type;
template <class T>
constexpr int lanes = simd_bytes / static_cast<int>(sizeof(T));

template <class T>
inline Vector<T> load(const T* p) {
  Vector<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <class T>
inline void store(T* p, Vector<T> v) {
  std::memcpy(p, &v, sizeof(v));
}

// Register tile: `rows` rows of C × `vectors` SIMD vectors of columns. rows·vectors accumulators plus the B
// vectors and one broadcast must fit in the register file (32 vector registers with AVX-512, 16 otherwise).
template <class T>
struct Blocking {
  static constexpr int vectors = 2;
  static constexpr int rows = simd_bytes == 64 ? 8 : 4;
  static constexpr int columns = vectors * lanes<T>;
  // depth of one packed block: a rows×depth A strip stays in L1 while it sweeps the kc×nc B block in L2.
  static constexpr int64_t depth = sizeof(T) == 4 ? 384 : 256;
  static constexpr int64_t column_block = sizeof(T) == 4 ? 512 : 384;  // nc, a multiple of `columns`
  static constexpr int64_t row_block = 16 * rows;                       // rows of C one task handles
};

// Writes one finished tile: C = alpha·tile + beta·C for the valid_rows × valid_columns corner. beta == 0 never
// reads C (it may hold garbage or NaN).
template <class T, int rows, int vectors>
inline void store_tile(const Vector<T> (&tile)[rows][vectors], int64_t valid_rows, int64_t valid_columns, T alpha,
                       T beta, T* c, int64_t ldc) {
  constexpr int width = vectors * lanes<T>;
  if (valid_rows == rows && valid_columns == width) {
    for (int i = 0; i < rows; ++i)
      for (int v = 0; v < vectors; ++v) {
        T* target = c + i * ldc + v * lanes<T>;
        Vector<T> result = alpha * tile[i][v];
        if (beta != T(0)) result += beta * load(target);
        store(target, result);
      }
    return;
  }
  alignas(64) T buffer[rows][width];
  for (int i = 0; i < rows; ++i)
    for (int v = 0; v < vectors; ++v) store(&buffer[i][v * lanes<T>], tile[i][v]);
  for (int64_t i = 0; i < valid_rows; ++i)
    for (int64_t j = 0; j < valid_columns; ++j) {
      T& target = c[i * ldc + j];
      target = beta == T(0) ? alpha * buffer[i][j] : alpha * buffer[i][j] + beta * target;
    }
}

// tile = Σ_p a_strip[p][0..rows) ⊗ b_strip[p][0..vectors·lanes), strips packed with strides rows and
// b_stride. `vectors` may be smaller than the packed width (narrow last strip).
template <class T, int rows, int vectors, int b_stride>
inline void micro_kernel(int64_t depth, const T* __restrict a_strip, const T* __restrict b_strip,
                         int64_t valid_rows, int64_t valid_columns, T alpha, T beta, T* c, int64_t ldc) {
  Vector<T> tile[rows][vectors];
  for (int i = 0; i < rows; ++i)
    for (int v = 0; v < vectors; ++v) tile[i][v] = Vector<T>{};
  for (int64_t p = 0; p < depth; ++p) {
    Vector<T> b[vectors];
    for (int v = 0; v < vectors; ++v) b[v] = load(b_strip + p * b_stride + v * lanes<T>);
    for (int i = 0; i < rows; ++i) {
      const T a = a_strip[p * rows + i];
      for (int v = 0; v < vectors; ++v) tile[i][v] += a * b[v];
    }
  }
  store_tile<T, rows, vectors>(tile, valid_rows, valid_columns, alpha, beta, c, ldc);
}

// Packs op(A)[row0 .. row0+count, p0 .. p0+depth) into strips of `rows` rows: strip s holds, for each p, the
// `rows` values of that column contiguously. Rows past `count` are zero.
template <class T>
void pack_a(bool transpose, const T* a, int64_t lda, int64_t row0, int64_t count, int64_t p0, int64_t depth,
            T* packed) {
  constexpr int rows = Blocking<T>::rows;
  for (int64_t strip = 0; strip < count; strip += rows) {
    const int64_t valid = std::min<int64_t>(rows, count - strip);
    T* out = packed + strip * depth;
    if (!transpose) {  // op(A)[i][p] = a[i·lda + p]: rows are contiguous in p
      for (int64_t i = 0; i < valid; ++i) {
        const T* source = a + (row0 + strip + i) * lda + p0;
        for (int64_t p = 0; p < depth; ++p) out[p * rows + i] = source[p];
      }
    } else {  // op(A)[i][p] = a[p·lda + i]: the `rows` values for one p are contiguous
      for (int64_t p = 0; p < depth; ++p) {
        const T* source = a + (p0 + p) * lda + row0 + strip;
        for (int64_t i = 0; i < valid; ++i) out[p * rows + i] = source[i];
      }
    }
    if (valid < rows)
      for (int64_t p = 0; p < depth; ++p)
        for (int64_t i = valid; i < rows; ++i) out[p * rows + i] = T(0);
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

  // Row blocks are the parallel tasks; when C has few rows, each row block is also split into column groups so
  // that both threads get work (each group repacks its A slice, which is cheap next to the multiply).
  const int64_t row_block = std::min<int64_t>(B::row_block, (m + rows - 1) / rows * rows);
  const int64_t row_blocks = (m + row_block - 1) / row_block;

  for (int64_t column0 = 0; column0 < n; column0 += column_block) {
    const int64_t block_columns = std::min(column_block, n - column0);
    const int64_t strips = (block_columns + columns - 1) / columns;
    const int64_t column_groups =
        std::min<int64_t>(strips, std::max<int64_t>(1, (2 * threads + row_blocks - 1) / row_blocks));
    for (int64_t p0 = 0; p0 < k; p0 += depth_block) {
      const int64_t depth = std::min(depth_block, k - p0);
      const T step_beta = p0 == 0 ? beta : T(1);
      // One strip of B is depth·columns values; pack in parallel when there is enough of it.
      parallel_for(strips, std::max<int64_t>(1, 16384 / (depth * columns)), [&](int64_t begin, int64_t end) {
        pack_b(transpose_b, b, ldb, p0, depth, column0, block_columns, begin, end, b_packed.data());
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
          pack_a(transpose_a, a, lda, row0, block_rows, p0, depth, a_packed.data());
          for (int64_t i = 0; i < block_rows; i += rows) {
            const T* a_strip = a_packed.data() + i * depth;
            const int64_t valid_rows = std::min<int64_t>(rows, block_rows - i);
            for (int64_t strip = strip_begin; strip < strip_end; ++strip) {
              const int64_t j = strip * columns;
              const int64_t valid_columns = std::min<int64_t>(columns, block_columns - j);
              const T* b_strip = b_packed.data() + j * depth;
              T* c_tile = c + (row0 + i) * ldc + column0 + j;
              if (valid_columns <= lanes<T>)
                micro_kernel<T, rows, 1, columns>(depth, a_strip, b_strip, valid_rows, valid_columns, alpha,
                                                  step_beta, c_tile, ldc);
              else
                micro_kernel<T, rows, B::vectors, columns>(depth, a_strip, b_strip, valid_rows, valid_columns,
                                                           alpha, step_beta, c_tile, ldc);
            }
          }
        }
      });
    }
  }
}

// Split-k for a small C with a long k (weight gradients: C is channels × channels, k is every pixel of the
// batch): k is cut into fixed chunks whose partial products are summed in chunk order. The chunking depends
// only on the shape, so the result is still the same for any thread count.
template <class T>
bool try_split_k(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using B = Blocking<T>;
  constexpr int64_t max_chunks = 16;
  if (m * n > 65536 || k < 8 * std::max(m, n) || k < 4 * B::depth) return false;
  const int64_t blocks = (k + B::depth - 1) / B::depth;
  const int64_t chunk = B::depth * ((blocks + max_chunks - 1) / max_chunks);
  const int64_t chunks = chunk_count(k, chunk);
  thread_local std::vector<T> partials;
  if (partials.size() < static_cast<size_t>(chunks * m * n)) partials.resize(chunks * m * n);
  T* partial = partials.data();
  parallel_for_chunks(k, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    const T* a_chunk = transpose_a ? a + begin * lda : a + begin;
    const T* b_chunk = transpose_b ? b + begin : b + begin * ldb;
    gemm_blocked(transpose_a, transpose_b, m, n, end - begin, T(1), a_chunk, lda, b_chunk, ldb, T(0),
                 partial + index * m * n, n);
  });
  parallel_for(m, std::max<int64_t>(1, 4096 / n), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t i = row_begin; i < row_end; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T sum = partial[i * n + j];
        for (int64_t index = 1; index < chunks; ++index) sum += partial[(index * m + i) * n + j];
        T& target = c[i * ldc + j];
        target = beta == T(0) ? alpha * sum : alpha * sum + beta * target;
      }
  });
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
