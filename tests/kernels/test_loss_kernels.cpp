// Loss kernels: PyTorch reference values (tests/fixtures/kernel_reference.h, from tools/make_kernel_reference.py),
// naive double references on random awkward shapes, finite-difference gradients, the γ = 0 reductions of the
// focal losses, thread-count determinism, stability on extreme logits and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/loss.h"
#include "kernels/parallel.h"
#include "tests/fixtures/kernel_reference.h"

namespace pneuma::kernels {
namespace {

namespace ref = pneuma::test_reference;

template <class T>
std::vector<T> as(const double* values, size_t count) {
  return std::vector<T>(values, values + count);
}

template <class T>
std::vector<T> random_values(size_t count, std::mt19937& rng, double low, double high) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> v(count);
  for (auto& x : v) x = static_cast<T>(uniform(rng));
  return v;
}

std::vector<int32_t> random_targets(size_t rows, int classes, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> pick(0, classes - 1);
  std::vector<int32_t> t(rows);
  for (auto& x : t) x = pick(rng);
  return t;
}

void expect_all_near(const std::vector<double>& got, const double* want, size_t count, double tolerance,
                     const std::string& what) {
  ASSERT_EQ(got.size(), count);
  for (size_t i = 0; i < count; ++i)
    ASSERT_NEAR(got[i], want[i], tolerance * (1 + std::fabs(want[i]))) << what << " element " << i;
}

template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Central differences of a scalar function of `x`, compared against `analytic` element by element.
void expect_gradient_matches_finite_difference(std::vector<double> x, const std::vector<double>& analytic,
                                               const std::function<double(const std::vector<double>&)>& loss,
                                               const std::string& what) {
  ASSERT_EQ(x.size(), analytic.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i], h = 1e-5;
    x[i] = saved + h;
    const double up = loss(x);
    x[i] = saved - h;
    const double down = loss(x);
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    ASSERT_NEAR(analytic[i], numeric, 1e-8 + 1e-6 * std::fabs(numeric)) << what << " element " << i;
  }
}

// ---- PyTorch fixtures -----------------------------------------------------------------------------------------

template <class T>
void check_cross_entropy_against_torch(double tolerance) {
  const size_t n = ref::kLossRows * ref::kLossClasses;
  const auto logits = as<T>(ref::kLossLogits, n);
  const auto weights = as<T>(ref::kLossClassWeights, ref::kLossClasses);
  const size_t cases = std::size(ref::kCrossEntropyCases) / 2;
  for (size_t c = 0; c < cases; ++c) {
    const bool weighted = ref::kCrossEntropyCases[2 * c] != 0;
    const T smoothing = static_cast<T>(ref::kCrossEntropyCases[2 * c + 1]);
    const double* expected = ref::kCrossEntropyExpected + c * (n + 1);
    const T* w = weighted ? weights.data() : nullptr;
    const std::string what = "cross_entropy case " + std::to_string(c);
    const T loss = cpu::cross_entropy_forward<T>(ref::kLossRows, ref::kLossClasses, logits.data(), ref::kLossTargets,
                                                 w, smoothing);
    EXPECT_NEAR(loss, expected[0], tolerance * std::fabs(expected[0])) << what;
    std::vector<T> grad(n, std::numeric_limits<T>::quiet_NaN());
    cpu::cross_entropy_backward<T>(ref::kLossRows, ref::kLossClasses, logits.data(), ref::kLossTargets, w, smoothing,
                                   T(1), grad.data());
    expect_all_near(widen(grad), expected + 1, n, tolerance, what + " gradient");
  }
}
TEST(LossKernels, CrossEntropyMatchesTorchDouble) { check_cross_entropy_against_torch<double>(1e-12); }
TEST(LossKernels, CrossEntropyMatchesTorchFloat) { check_cross_entropy_against_torch<float>(2e-6); }

template <class T>
void check_focal_against_torch(double tolerance) {
  const size_t n = ref::kLossRows * ref::kLossClasses;
  const auto logits = as<T>(ref::kLossLogits, n);
  const auto alpha = as<T>(ref::kFocalAlpha, ref::kLossClasses);
  const size_t cases = std::size(ref::kFocalCases) / 2;
  for (size_t c = 0; c < cases; ++c) {
    const T* a = ref::kFocalCases[2 * c] != 0 ? alpha.data() : nullptr;
    const T gamma = static_cast<T>(ref::kFocalCases[2 * c + 1]);
    const double* expected = ref::kFocalExpected + c * (n + 1);
    const std::string what = "focal_loss case " + std::to_string(c);
    const T loss =
        cpu::focal_loss_forward<T>(ref::kLossRows, ref::kLossClasses, logits.data(), ref::kLossTargets, a, gamma);
    EXPECT_NEAR(loss, expected[0], tolerance * std::fabs(expected[0])) << what;
    std::vector<T> grad(n, std::numeric_limits<T>::quiet_NaN());
    cpu::focal_loss_backward<T>(ref::kLossRows, ref::kLossClasses, logits.data(), ref::kLossTargets, a, gamma, T(1),
                                grad.data());
    expect_all_near(widen(grad), expected + 1, n, tolerance, what + " gradient");
  }
}
TEST(LossKernels, FocalLossMatchesTorchDouble) { check_focal_against_torch<double>(1e-12); }
TEST(LossKernels, FocalLossMatchesTorchFloat) { check_focal_against_torch<float>(2e-6); }

template <class T>
void check_bce_against_torch(double tolerance) {
  const size_t n = ref::kBinaryRows * ref::kBinaryClasses;
  const auto logits = as<T>(ref::kBinaryLogits, n);
  const auto targets = as<T>(ref::kBinaryTargets, n);
  const auto pos_weight = as<T>(ref::kBinaryPosWeight, ref::kBinaryClasses);
  for (int weighted = 0; weighted < 2; ++weighted) {
    const T* pw = weighted ? pos_weight.data() : nullptr;
    const double* expected = ref::kBceExpected + weighted * (n + 1);
    const std::string what = weighted ? "bce_with_logits with pos_weight" : "bce_with_logits";
    const T loss = cpu::bce_with_logits_forward<T>(n, ref::kBinaryClasses, logits.data(), targets.data(), pw);
    EXPECT_NEAR(loss, expected[0], tolerance * std::fabs(expected[0])) << what;
    std::vector<T> grad(n, std::numeric_limits<T>::quiet_NaN());
    cpu::bce_with_logits_backward<T>(n, ref::kBinaryClasses, logits.data(), targets.data(), pw, T(1), grad.data());
    expect_all_near(widen(grad), expected + 1, n, tolerance, what + " gradient");
  }
}
TEST(LossKernels, BceWithLogitsMatchesTorchDouble) { check_bce_against_torch<double>(1e-12); }
TEST(LossKernels, BceWithLogitsMatchesTorchFloat) { check_bce_against_torch<float>(2e-6); }

template <class T>
void check_binary_focal_against_torch(double tolerance) {
  const size_t n = ref::kBinaryRows * ref::kBinaryClasses;
  const auto logits = as<T>(ref::kBinaryLogits, n);
  const auto targets = as<T>(ref::kBinaryTargets, n);
  const size_t cases = std::size(ref::kBinaryFocalCases) / 2;
  for (size_t c = 0; c < cases; ++c) {
    const T alpha = static_cast<T>(ref::kBinaryFocalCases[2 * c]);
    const T gamma = static_cast<T>(ref::kBinaryFocalCases[2 * c + 1]);
    const double* expected = ref::kBinaryFocalExpected + c * (n + 1);
    const std::string what = "binary_focal_loss case " + std::to_string(c);
    const T loss = cpu::binary_focal_loss_forward<T>(n, logits.data(), targets.data(), alpha, gamma);
    EXPECT_NEAR(loss, expected[0], tolerance * std::fabs(expected[0])) << what;
    std::vector<T> grad(n, std::numeric_limits<T>::quiet_NaN());
    cpu::binary_focal_loss_backward<T>(n, logits.data(), targets.data(), alpha, gamma, T(1), grad.data());
    expect_all_near(widen(grad), expected + 1, n, tolerance, what + " gradient");
  }
}
TEST(LossKernels, BinaryFocalLossMatchesTorchvisionDouble) { check_binary_focal_against_torch<double>(1e-12); }
TEST(LossKernels, BinaryFocalLossMatchesTorchvisionFloat) { check_binary_focal_against_torch<float>(2e-6); }

// ---- naive references on random awkward shapes ----------------------------------------------------------------

double naive_cross_entropy(int rows, int classes, const std::vector<double>& z, const std::vector<int32_t>& t,
                           const double* w, double smoothing) {
  double total = 0, normaliser = 0;
  for (int i = 0; i < rows; ++i) {
    double denominator = 0;
    for (int k = 0; k < classes; ++k) denominator += std::exp(z[i * classes + k]);
    auto neg_log_p = [&](int k) { return -std::log(std::exp(z[i * classes + k]) / denominator); };
    const double wt = w ? w[t[i]] : 1;
    double smooth = 0;
    for (int k = 0; k < classes; ++k) smooth += (w ? w[k] : 1) * neg_log_p(k);
    total += (1 - smoothing) * wt * neg_log_p(t[i]) + smoothing / classes * smooth;
    normaliser += wt;
  }
  return total / normaliser;
}

TEST(LossKernels, CrossEntropyMatchesNaiveOnAwkwardShapes) {
  std::mt19937 rng(31);
  const std::vector<std::pair<int, int>> shapes = {{1, 1}, {1, 2}, {37, 13}, {300, 129}, {3, 1001}};
  for (auto [rows, classes] : shapes) {
    const auto z = random_values<double>(rows * classes, rng, -4, 4);
    const auto t = random_targets(rows, classes, rng);
    const auto w = random_values<double>(classes, rng, 0.1, 2.0);
    for (double smoothing : {0.0, 0.1, 0.7}) {
      for (const double* weights : {static_cast<const double*>(nullptr), w.data()}) {
        const double want = naive_cross_entropy(rows, classes, z, t, weights, smoothing);
        EXPECT_NEAR(cpu::cross_entropy_forward<double>(rows, classes, z.data(), t.data(), weights, smoothing), want,
                    1e-12 * (1 + std::fabs(want)))
            << rows << "x" << classes << " smoothing " << smoothing << (weights ? " weighted" : "");
        const std::vector<float> zf(z.begin(), z.end()), wf(w.begin(), w.end());
        EXPECT_NEAR(cpu::cross_entropy_forward<float>(rows, classes, zf.data(), t.data(), weights ? wf.data() : nullptr,
                                                      static_cast<float>(smoothing)),
                    want, 1e-5 * (1 + std::fabs(want)));
      }
    }
  }
}

TEST(LossKernels, CrossEntropyGradientFiniteDifference) {
  std::mt19937 rng(32);
  const int rows = 4, classes = 5;
  const auto z = random_values<double>(rows * classes, rng, -3, 3);
  const auto t = random_targets(rows, classes, rng);
  const auto w = random_values<double>(classes, rng, 0.2, 2.0);
  for (double smoothing : {0.0, 0.25, 1.0}) {
    for (const double* weights : {static_cast<const double*>(nullptr), w.data()}) {
      std::vector<double> grad(z.size());
      cpu::cross_entropy_backward<double>(rows, classes, z.data(), t.data(), weights, smoothing, 1.7, grad.data());
      expect_gradient_matches_finite_difference(
          z, grad,
          [&](const std::vector<double>& x) {
            return 1.7 * cpu::cross_entropy_forward<double>(rows, classes, x.data(), t.data(), weights, smoothing);
          },
          "cross_entropy smoothing " + std::to_string(smoothing) + (weights ? " weighted" : ""));
    }
  }
}

TEST(LossKernels, BceWithLogitsMatchesNaiveAndFiniteDifference) {
  std::mt19937 rng(33);
  const int rows = 7, classes = 3, n = rows * classes;
  const auto x = random_values<double>(n, rng, -5, 5);
  auto y = random_values<double>(n, rng, 0, 1);  // soft targets, some made hard
  for (int i = 0; i < n; i += 3) y[i] = i % 2;
  const auto pw = random_values<double>(classes, rng, 0.2, 4.0);
  for (const double* pos_weight : {static_cast<const double*>(nullptr), pw.data()}) {
    double want = 0;
    for (int i = 0; i < n; ++i) {
      const double p = 1 / (1 + std::exp(-x[i])), weight = pos_weight ? pos_weight[i % classes] : 1;
      want -= weight * y[i] * std::log(p) + (1 - y[i]) * std::log(1 - p);
    }
    want /= n;
    EXPECT_NEAR(cpu::bce_with_logits_forward<double>(n, classes, x.data(), y.data(), pos_weight), want, 1e-12);
    std::vector<double> grad(n);
    cpu::bce_with_logits_backward<double>(n, classes, x.data(), y.data(), pos_weight, 0.6, grad.data());
    expect_gradient_matches_finite_difference(
        x, grad,
        [&](const std::vector<double>& v) {
          return 0.6 * cpu::bce_with_logits_forward<double>(n, classes, v.data(), y.data(), pos_weight);
        },
        pos_weight ? "bce with pos_weight" : "bce");
  }
}

TEST(LossKernels, BinaryFocalLossMatchesNaiveAndFiniteDifference) {
  std::mt19937 rng(34);
  const int n = 29;
  const auto x = random_values<double>(n, rng, -4, 4);
  auto y = random_values<double>(n, rng, 0, 1);
  for (int i = 0; i < n; i += 2) y[i] = (i / 2) % 2;
  const std::vector<std::pair<double, double>> cases = {{0.25, 2.0}, {-1.0, 0.0}, {0.75, 0.0},
                                                        {0.5, 0.5},  {-1.0, 1.0}, {0.3, 3.0}};
  for (auto [alpha, gamma] : cases) {
    double want = 0;
    for (int i = 0; i < n; ++i) {  // torchvision's formula, literally
      const double p = 1 / (1 + std::exp(-x[i]));
      const double ce = -(y[i] * std::log(p) + (1 - y[i]) * std::log(1 - p));
      const double p_t = p * y[i] + (1 - p) * (1 - y[i]);
      double loss = ce * std::pow(1 - p_t, gamma);
      if (alpha >= 0) loss *= alpha * y[i] + (1 - alpha) * (1 - y[i]);
      want += loss;
    }
    want /= n;
    const std::string what = "alpha " + std::to_string(alpha) + " gamma " + std::to_string(gamma);
    EXPECT_NEAR(cpu::binary_focal_loss_forward<double>(n, x.data(), y.data(), alpha, gamma), want, 1e-12) << what;
    std::vector<double> grad(n);
    cpu::binary_focal_loss_backward<double>(n, x.data(), y.data(), alpha, gamma, 1.3, grad.data());
    expect_gradient_matches_finite_difference(
        x, grad,
        [&](const std::vector<double>& v) {
          return 1.3 * cpu::binary_focal_loss_forward<double>(n, v.data(), y.data(), alpha, gamma);
        },
        "binary focal " + what);
  }
}

TEST(LossKernels, FocalLossMatchesNaiveAndFiniteDifference) {
  std::mt19937 rng(35);
  const int rows = 6, classes = 4;
  const auto z = random_values<double>(rows * classes, rng, -3, 3);
  const auto t = random_targets(rows, classes, rng);
  const auto alpha = random_values<double>(classes, rng, 0.1, 0.9);
  for (double gamma : {0.0, 0.5, 1.0, 2.0, 3.5}) {
    for (const double* a : {static_cast<const double*>(nullptr), alpha.data()}) {
      double want = 0;
      for (int i = 0; i < rows; ++i) {
        double denominator = 0;
        for (int k = 0; k < classes; ++k) denominator += std::exp(z[i * classes + k]);
        const double p = std::exp(z[i * classes + t[i]]) / denominator;
        want += -(a ? a[t[i]] : 1) * std::pow(1 - p, gamma) * std::log(p);
      }
      want /= rows;
      const std::string what = "gamma " + std::to_string(gamma) + (a ? " with alpha" : "");
      EXPECT_NEAR(cpu::focal_loss_forward<double>(rows, classes, z.data(), t.data(), a, gamma), want, 1e-12) << what;
      std::vector<double> grad(z.size());
      cpu::focal_loss_backward<double>(rows, classes, z.data(), t.data(), a, gamma, 0.9, grad.data());
      expect_gradient_matches_finite_difference(
          z, grad,
          [&](const std::vector<double>& v) {
            return 0.9 * cpu::focal_loss_forward<double>(rows, classes, v.data(), t.data(), a, gamma);
          },
          "focal " + what);
    }
  }
}

TEST(LossKernels, FocalLossesWithGammaZeroReduceToCrossEntropies) {
  std::mt19937 rng(36);
  const int rows = 11, classes = 6, n = rows * classes;
  const auto z = random_values<double>(n, rng, -5, 5);
  const auto t = random_targets(rows, classes, rng);
  EXPECT_NEAR(cpu::focal_loss_forward<double>(rows, classes, z.data(), t.data(), nullptr, 0.0),
              cpu::cross_entropy_forward<double>(rows, classes, z.data(), t.data(), nullptr, 0.0), 1e-14);
  std::vector<double> focal_grad(n), ce_grad(n);
  cpu::focal_loss_backward<double>(rows, classes, z.data(), t.data(), nullptr, 0.0, 1.0, focal_grad.data());
  cpu::cross_entropy_backward<double>(rows, classes, z.data(), t.data(), nullptr, 0.0, 1.0, ce_grad.data());
  for (int i = 0; i < n; ++i) EXPECT_NEAR(focal_grad[i], ce_grad[i], 1e-15);

  const auto y = random_values<double>(n, rng, 0, 1);
  EXPECT_NEAR(cpu::binary_focal_loss_forward<double>(n, z.data(), y.data(), -1.0, 0.0),
              cpu::bce_with_logits_forward<double>(n, classes, z.data(), y.data(), nullptr), 1e-14);
  std::vector<double> binary_focal_grad(n), bce_grad(n);
  cpu::binary_focal_loss_backward<double>(n, z.data(), y.data(), -1.0, 0.0, 1.0, binary_focal_grad.data());
  cpu::bce_with_logits_backward<double>(n, classes, z.data(), y.data(), nullptr, 1.0, bce_grad.data());
  for (int i = 0; i < n; ++i) EXPECT_NEAR(binary_focal_grad[i], bce_grad[i], 1e-15);
}

TEST(LossKernels, ForwardBitIdenticalWithOneAndTwoThreads) {
  std::mt19937 rng(37);
  const int rows = 1500, classes = 101, n = rows * classes;
  const auto z = random_values<float>(n, rng, -6, 6);
  const auto t = random_targets(rows, classes, rng);
  const auto w = random_values<float>(classes, rng, 0.1, 2.0);
  const auto y = random_values<float>(n, rng, 0, 1);
  float values[2][4];
  std::vector<float> grads[2];
  const int saved = max_threads();
  for (int threads = 1; threads <= 2; ++threads) {
    set_max_threads(threads);
    float* v = values[threads - 1];
    v[0] = cpu::cross_entropy_forward<float>(rows, classes, z.data(), t.data(), w.data(), 0.1f);
    v[1] = cpu::focal_loss_forward<float>(rows, classes, z.data(), t.data(), w.data(), 2.0f);
    v[2] = cpu::bce_with_logits_forward<float>(n, classes, z.data(), y.data(), w.data());
    v[3] = cpu::binary_focal_loss_forward<float>(n, z.data(), y.data(), 0.25f, 2.0f);
    grads[threads - 1].resize(n);
    cpu::cross_entropy_backward<float>(rows, classes, z.data(), t.data(), w.data(), 0.1f, 1.0f,
                                       grads[threads - 1].data());
  }
  set_max_threads(saved);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(values[0][i], values[1][i]) << "loss " << i;
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(LossKernels, ExtremeLogitsStayFinite) {
  const int rows = 2, classes = 3;
  const float z[] = {1000.0f, -1000.0f, 0.0f, -800.0f, 900.0f, 850.0f};
  const int32_t t[] = {1, 2};
  std::vector<float> grad(6);
  const float ce = cpu::cross_entropy_forward<float>(rows, classes, z, t, nullptr, 0.1f);
  cpu::cross_entropy_backward<float>(rows, classes, z, t, nullptr, 0.1f, 1.0f, grad.data());
  EXPECT_TRUE(std::isfinite(ce));
  EXPECT_NEAR(ce, ((0.9 * 2000 + 0.1 / 3 * (0 + 2000 + 1000)) + (0.9 * 50 + 0.1 / 3 * (1700 + 0 + 50))) / 2, 1e-2);
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
  const float focal = cpu::focal_loss_forward<float>(rows, classes, z, t, nullptr, 2.0f);
  cpu::focal_loss_backward<float>(rows, classes, z, t, nullptr, 2.0f, 1.0f, grad.data());
  EXPECT_NEAR(focal, (2000 + 50) / 2.0, 1e-2);
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
  const float targets[] = {0, 1, 1, 0, 0.5f, 1};
  EXPECT_NEAR(cpu::bce_with_logits_forward<float>(6, 6, z, targets, nullptr),
              (1000 + 1000 + 0.6931472 + 0 + 450 + 0) / 6.0, 1e-3);
  cpu::bce_with_logits_backward<float>(6, 6, z, targets, nullptr, 1.0f, grad.data());
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
  EXPECT_TRUE(std::isfinite(cpu::binary_focal_loss_forward<float>(6, z, targets, 0.25f, 0.5f)));
  cpu::binary_focal_loss_backward<float>(6, z, targets, 0.25f, 0.5f, 1.0f, grad.data());
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
}

TEST(LossKernels, TargetOutOfRangeNamesRowAndValue) {
  const float z[] = {0, 1, 2, 3, 4, 5};
  const int32_t targets[] = {1, 3};
  float grad[6];
  try {
    cpu::cross_entropy_forward<float>(2, 3, z, targets, nullptr, 0.0f);
    FAIL() << "expected pneuma::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("row 1"), std::string::npos) << message;
    EXPECT_NE(message.find("is 3"), std::string::npos) << message;
  }
  const int32_t negative[] = {-1, 0};
  EXPECT_THROW(cpu::cross_entropy_backward<float>(2, 3, z, negative, nullptr, 0.0f, 1.0f, grad), Error);
  EXPECT_THROW(cpu::focal_loss_forward<float>(2, 3, z, targets, nullptr, 2.0f), Error);
  EXPECT_THROW(cpu::focal_loss_backward<float>(2, 3, z, negative, nullptr, 2.0f, 1.0f, grad), Error);
  EXPECT_THROW(cpu::bce_with_logits_forward<float>(6, 4, z, z, z), Error);  // pos_weight of 4 cannot tile 6
  const int32_t valid[] = {1, 2};
  EXPECT_THROW(cpu::cross_entropy_forward<float>(2, 3, z, valid, nullptr, 1.5f), Error);  // smoothing > 1
}

}  // namespace
}  // namespace pneuma::kernels
