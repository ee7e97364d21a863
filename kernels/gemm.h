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

namespace pneuma::kernels::cuda {
// How the CUDA GEMM core (regular convolutions and linear layers) multiplies fp32 operands:
//  tf32 — tensor cores, inputs rounded to TF32 (10-bit mantissa), fp32 accumulation: the default, as in cuDNN and
//         cuBLAS with TF32 allowed. Expect relative errors around 1e-3 against an fp32 reference.
//  fp32 — exact fp32 FFMA from the same shared-memory tiles (slower; for tight comparisons).
// Process-wide; the initial value comes from PNEUMA_MATMUL_PRECISION=tf32|fp32 in the environment, else tf32.
// Only in CUDA builds (kernels/cuda/gemm_precision.cu).
enum class MatmulPrecision { tf32, fp32 };
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();
}  // namespace pneuma::kernels::cuda
