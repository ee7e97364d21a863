// Row-major GEMM: C[m×n] = alpha · op(A) · op(B) + beta · C, op = transpose or not.
// Uses the system BLAS (OpenBLAS) when built with PNEUMA_WITH_BLAS, else our portable blocked GEMM; both are
// available by name so they can be compared and tested against each other.
#pragma once
#include <cstdint>

namespace pneuma::kernels::cpu {

template <class T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Our own implementation (cache-blocked, multithreaded over output tiles). Always built.
template <class T>
void gemm_portable(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Whether gemm() goes to a system BLAS in this build.
bool gemm_uses_blas();

}  // namespace pneuma::kernels::cpu
