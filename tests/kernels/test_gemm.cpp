// CPU GEMM: gemm() (OpenBLAS when built with it) and gemm_portable() against a naive double-precision loop for
// every transpose combination, odd sizes, padded leading dimensions, alpha/beta, and the split-k and multi-block
// paths; plus repeatability and thread-count independence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

namespace {

namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

struct GemmCase {
  int64_t m, n, k;
};

// Odd sizes; 130×67×300 spans several register tiles and strips, 20×600×40 more than one column block,
// 33×17×2000 and 5×3×4100 take the split-k path (small C, long k).
const std::vector<GemmCase> gemm_cases = {{1, 1, 1},     {7, 5, 3},     {3, 17, 1},   {37, 29, 53},
                                          {130, 67, 300}, {20, 600, 40}, {33, 17, 2000}, {5, 3, 4100}};

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

template <class T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 1e-4 : 1e-10;
}

// Operands stored with padded leading dimensions (cols + 3) so lda/ldb/ldc are really honoured.
template <class T>
struct GemmProblem {
  bool transpose_a, transpose_b;
  int64_t m, n, k, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> a, b, c;

  GemmProblem(bool ta, bool tb, GemmCase shape, T alpha_, T beta_, uint32_t seed)
      : transpose_a(ta), transpose_b(tb), m(shape.m), n(shape.n), k(shape.k), alpha(alpha_), beta(beta_) {
    lda = (ta ? m : k) + 3;
    ldb = (tb ? k : n) + 3;
    ldc = n + 3;
    a = random_values<T>((ta ? k : m) * lda, seed);
    b = random_values<T>((tb ? n : k) * ldb, seed + 1);
    // beta == 0 must not read C: poison it.
    c = beta_ == T(0) ? std::vector<T>(m * ldc, std::numeric_limits<T>::quiet_NaN()) : random_values<T>(m * ldc, seed + 2);
  }
  double a_at(int64_t i, int64_t p) const { return transpose_a ? a[p * lda + i] : a[i * lda + p]; }
  double b_at(int64_t p, int64_t j) const { return transpose_b ? b[j * ldb + p] : b[p * ldb + j]; }

  std::vector<double> reference() const {
    std::vector<double> result(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += a_at(i, p) * b_at(p, j);
        result[i * n + j] = double(alpha) * sum + (beta == T(0) ? 0.0 : double(beta) * double(c[i * ldc + j]));
      }
    return result;
  }
  template <class Gemm>
  std::vector<T> run(Gemm gemm_function) const {
    std::vector<T> out = c;
    gemm_function(transpose_a, transpose_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, out.data(), ldc);
    return out;
  }
  std::string name() const {
    return std::string(transpose_a ? "Aᵀ" : "A") + (transpose_b ? "·Bᵀ" : "·B") + " m=" + std::to_string(m) +
           " n=" + std::to_string(n) + " k=" + std::to_string(k);
  }
};

// |got - ref| <= atol + rtol·|ref| on the m×n corner of a ldc-strided result; the padding must be untouched.
// Float tolerances grow with sqrt(k): rounding error of a k-term sum of products.
template <class T>
void expect_matches(const GemmProblem<T>& p, const std::vector<T>& got, const std::vector<double>& ref,
                    const std::string& what) {
  const double scale = sizeof(T) == 4 ? std::max(1.0, std::sqrt(double(p.k) / 64.0)) : 1.0;
  const double atol = tolerance<T>() * scale, rtol = tolerance<T>() * scale;
  double worst_excess = -1, worst_abs = 0;
  int64_t worst = -1, failures = 0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      const double value = got[i * p.ldc + j], expected = ref[i * p.n + j];
      const double error = std::fabs(value - expected);
      const double excess = std::isnan(value) ? INFINITY : error - (atol + rtol * std::fabs(expected));
      if (excess > 0) ++failures;
      if (excess > worst_excess) worst_excess = excess, worst = i * p.n + j, worst_abs = error;
    }
  EXPECT_EQ(failures, 0) << what << " " << p.name() << ": worst element " << worst << " (row " << worst / p.n
                         << ", col " << worst % p.n << ") got " << got[(worst / p.n) * p.ldc + worst % p.n]
                         << " expected " << ref[worst] << " |error| " << worst_abs;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = p.n; j < p.ldc; ++j)
      if (std::isnan(double(p.c[i * p.ldc + j])) ? !std::isnan(double(got[i * p.ldc + j]))
                                                  : got[i * p.ldc + j] != p.c[i * p.ldc + j]) {
        ADD_FAILURE() << what << " " << p.name() << " wrote outside the m×n corner at row " << i << " col " << j;
        return;
      }
}

template <class T>
void check_against_reference(T alpha, T beta) {
  uint32_t seed = 100;
  for (const GemmCase& shape : gemm_cases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        GemmProblem<T> p(ta, tb, shape, alpha, beta, seed += 3);
        const std::vector<double> ref = p.reference();
        expect_matches(p, p.run(cpu::gemm<T>), ref, "gemm");
        expect_matches(p, p.run(cpu::gemm_portable<T>), ref, "gemm_portable");
      }
}

TEST(GemmKernels, FloatMatchesReferenceAllTransposes) { check_against_reference<float>(1.0f, 0.0f); }
TEST(GemmKernels, DoubleMatchesReferenceAllTransposes) { check_against_reference<double>(1.0, 0.0); }
TEST(GemmKernels, FloatAlphaBetaAccumulate) { check_against_reference<float>(0.5f, 0.75f); }
TEST(GemmKernels, DoubleAlphaBetaAccumulate) { check_against_reference<double>(-1.25, 1.0); }

// gemm (BLAS) and gemm_portable agree with each other on a larger square problem too.
TEST(GemmKernels, BlasAndPortableAgree) {
  GemmProblem<float> p(false, true, {257, 131, 515}, 1.0f, 0.0f, 7);
  const std::vector<float> blas = p.run(cpu::gemm<float>), portable = p.run(cpu::gemm_portable<float>);
  std::vector<double> blas_as_double(p.m * p.n);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) blas_as_double[i * p.n + j] = blas[i * p.ldc + j];
  expect_matches(p, portable, blas_as_double, "gemm_portable vs gemm");
}

TEST(GemmKernels, EmptyDepthScalesOutput) {
  for (auto gemm_function : {cpu::gemm<double>, cpu::gemm_portable<double>}) {
    std::vector<double> c(6, std::numeric_limits<double>::quiet_NaN());
    gemm_function(false, false, 2, 3, 0, 1.0, nullptr, 1, nullptr, 3, 0.0, c.data(), 3);
    for (double v : c) EXPECT_EQ(v, 0.0);  // beta == 0 overwrites, even NaN
    std::vector<double> d = {1, 2, 3, 4, 5, 6};
    gemm_function(false, false, 2, 3, 0, 1.0, nullptr, 1, nullptr, 3, 2.0, d.data(), 3);
    EXPECT_EQ(d, (std::vector<double>{2, 4, 6, 8, 10, 12}));
  }
}

TEST(GemmKernels, RejectsTooSmallLeadingDimension) {
  std::vector<float> a(12, 1.f), b(12, 1.f), c(9);
  EXPECT_THROW(cpu::gemm<float>(false, false, 3, 3, 4, 1.f, a.data(), 3, b.data(), 3, 0.f, c.data(), 3),
               pneuma::Error);
  EXPECT_THROW(cpu::gemm_portable<float>(false, false, 3, 3, 4, 1.f, a.data(), 3, b.data(), 3, 0.f, c.data(), 3),
               pneuma::Error);
}

TEST(GemmKernels, ReportsBlasBackend) {
#ifdef PNEUMA_WITH_BLAS
  EXPECT_TRUE(cpu::gemm_uses_blas());
#else
  EXPECT_FALSE(cpu::gemm_uses_blas());
#endif
}

// Same inputs → same bits, on repeated calls and for 1 or 2 threads (tiles and k-chunks depend on the shape only).
TEST(GemmKernels, RepeatableAndThreadCountIndependent) {
  const int saved_threads = kernels::max_threads();
  for (GemmCase shape : {GemmCase{300, 70, 200}, GemmCase{24, 40, 6000}})
    for (auto gemm_function : {cpu::gemm<float>, cpu::gemm_portable<float>}) {
      GemmProblem<float> p(true, false, shape, 1.0f, 0.0f, 11);
      kernels::set_max_threads(2);
      const std::vector<float> first = p.run(gemm_function), second = p.run(gemm_function);
      kernels::set_max_threads(1);
      const std::vector<float> single = p.run(gemm_function);
      kernels::set_max_threads(saved_threads);
      for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) {
          ASSERT_EQ(first[i * p.ldc + j], second[i * p.ldc + j]) << p.name() << " repeated call differs";
          ASSERT_EQ(first[i * p.ldc + j], single[i * p.ldc + j]) << p.name() << " 1 vs 2 threads differ";
        }
    }
}

}  // namespace
