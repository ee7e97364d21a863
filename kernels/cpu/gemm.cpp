// gemm(): the system BLAS (OpenBLAS) when built with PNEUMA_WITH_BLAS, else gemm_portable().
//
// Threading: OpenBLAS is pinned to one thread and all parallelism comes from our OpenMP pool (kernels/parallel.h),
// the same pool every other kernel uses. Letting OpenBLAS run its own pthreads next to OpenMP makes the two pools
// busy-wait against each other on the cores: measured on a 2-core machine, an OpenMP elementwise kernel followed
// by a threaded sgemm ran 8× slower than either alone. So C is cut into tiles (or k into chunks) whose shape
// depends only on the problem, never on the thread count, and each tile is one single-threaded BLAS call: the
// result is the same for any thread count and on repeated calls, and calls from inside a parallel region simply
// run their tiles serially.
#include <algorithm>
#include <climits>
#include <mutex>
#include <vector>

#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/cpu/split_k.h"
#include "kernels/parallel.h"

#ifdef PNEUMA_WITH_BLAS
#include <cblas.h>
#endif

namespace pneuma::kernels::cpu {

bool gemm_uses_blas() {
#ifdef PNEUMA_WITH_BLAS
  return true;
#else
  return false;
#endif
}

#ifdef PNEUMA_WITH_BLAS
namespace {

void use_single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

inline void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}
inline void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                      int64_t ldc) {
  cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// A small C with a long k (weight gradients) has too few tiles to share out, so k is cut into at most 16 fixed
// chunks; the partial products are summed in chunk order.
template <class T>
void blas_gemm_split_k(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                       int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int64_t max_chunks = 16, granule = 256;
  const int64_t granules = (k + granule - 1) / granule;
  const int64_t chunk = granule * ((granules + max_chunks - 1) / max_chunks);
  const int64_t chunks = chunk_count(k, chunk);
  thread_local std::vector<T> partials;
  if (partials.size() < static_cast<size_t>(chunks * m * n)) partials.resize(chunks * m * n);
  T* partial = partials.data();
  parallel_for_chunks(k, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    const T* a_chunk = transpose_a ? a + begin * lda : a + begin;
    const T* b_chunk = transpose_b ? b + begin : b + begin * ldb;
    blas_gemm(transpose_a, transpose_b, m, n, end - begin, T(1), a_chunk, lda, b_chunk, ldb, T(0),
              partial + index * m * n, n);
  });
  sum_split_k_partials(m, n, chunks, m * n, partial, [n](int64_t i, int64_t j) { return i * n + j; }, alpha, beta, c,
                       ldc);
}

// C is cut along its longer side into up to 16 tiles of at least ~4 MFLOP each, multiples of 16 wide.
template <class T>
void blas_gemm_tiled(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                     int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int64_t wanted_tiles = std::clamp<int64_t>(static_cast<int64_t>(flops / 4e6), 1, 16);
  const int64_t tile = std::max<int64_t>(16, (extent / wanted_tiles + 15) / 16 * 16);
  parallel_for(chunk_count(extent, tile), 1, [&](int64_t tile_begin, int64_t tile_end) {
    for (int64_t t = tile_begin; t < tile_end; ++t) {
      const int64_t start = t * tile;
      const int64_t size = std::min(tile, extent - start);
      if (split_rows)
        blas_gemm(transpose_a, transpose_b, size, n, k, alpha, transpose_a ? a + start : a + start * lda, lda, b,
                  ldb, beta, c + start * ldc, ldc);
      else
        blas_gemm(transpose_a, transpose_b, m, size, k, alpha, a, lda, transpose_b ? b + start * ldb : b + start,
                  ldb, beta, c + start, ldc);
    }
  });
}

}  // namespace
#endif

template <class T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#ifdef PNEUMA_WITH_BLAS
  const bool fits_blas_int = std::max({m, n, k, lda, ldb, ldc}) <= INT_MAX;
  if (fits_blas_int && m > 0 && n > 0 && k > 0 && alpha != T(0)) {
    PNEUMA_CHECK(lda >= (transpose_a ? m : k) && ldb >= (transpose_b ? k : n) && ldc >= n,
                 "gemm: leading dimension too small (lda=%lld ldb=%lld ldc=%lld)", (long long)lda, (long long)ldb,
                 (long long)ldc);
    use_single_threaded_blas();
    const bool small_output_long_depth = m * n <= 65536 && k >= 8 * std::max(m, n) && k >= 1024;
    if (small_output_long_depth)
      blas_gemm_split_k(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
      blas_gemm_tiled(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  gemm_portable(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace pneuma::kernels::cpu
