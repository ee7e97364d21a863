// Optimizer kernels: several steps against torch.optim trajectories (tests/fixtures/kernel_reference.h, from
// tools/make_kernel_reference.py) in float and double, naive double references on a large vector (threaded
// path), the TensorFlow-style eps-inside-sqrt RMSprop variant, and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/optim.h"
#include "tests/fixtures/kernel_reference.h"

namespace pneuma::kernels {
namespace {

namespace ref = pneuma::test_reference;

enum OptimizerKind { kSgd = 0, kAdam = 1, kAdamW = 2, kRmsprop = 3 };

// Parameter, gradient and optimizer state for one flat buffer.
template <class T>
struct OptimizerState {
  std::vector<T> param, first, second, third;  // SGD/RMSprop momentum, Adam moments, RMSprop square/grad averages
  explicit OptimizerState(std::vector<T> initial)
      : param(std::move(initial)), first(param.size(), T(0)), second(param.size(), T(0)), third(param.size(), T(0)) {}
};

// Applies step `step` (0-based) of fixture case `c` to `state`.
template <class T>
void fixture_step(int c, int step, const std::vector<T>& grad, OptimizerState<T>& state) {
  const double* row = ref::kOptimCases + c * (1 + ref::kOptimHyperSlots);
  const int kind = static_cast<int>(row[0]);
  const double* h = row + 1;
  const int64_t n = static_cast<int64_t>(state.param.size());
  if (kind == kSgd) {
    SgdHyper hyper{.lr = h[0], .momentum = h[1], .dampening = h[2], .weight_decay = h[3], .nesterov = h[4] != 0};
    cpu::sgd_update<T>(n, hyper, step == 0, state.param.data(), grad.data(),
                       hyper.momentum != 0 ? state.first.data() : nullptr);
  } else if (kind == kAdam || kind == kAdamW) {
    AdamHyper hyper{.lr = h[0], .beta1 = h[1], .beta2 = h[2], .eps = h[3], .weight_decay = h[4],
                    .decoupled_weight_decay = kind == kAdamW, .step = step + 1};
    cpu::adam_update<T>(n, hyper, state.param.data(), grad.data(), state.first.data(), state.second.data());
  } else {
    RmspropHyper hyper{.lr = h[0], .alpha = h[1], .eps = h[2], .weight_decay = h[3], .momentum = h[4],
                       .centered = h[5] != 0};
    cpu::rmsprop_update<T>(n, hyper, state.param.data(), grad.data(), state.second.data(),
                           hyper.momentum != 0 ? state.first.data() : nullptr,
                           hyper.centered ? state.third.data() : nullptr);
  }
}

template <class T>
void check_against_torch(const double* expected, double rtol, double atol) {
  const int cases = static_cast<int>(std::size(ref::kOptimCases)) / (1 + ref::kOptimHyperSlots);
  ASSERT_GT(cases, 0);
  for (int c = 0; c < cases; ++c) {
    OptimizerState<T> state(std::vector<T>(ref::kOptimInitial, ref::kOptimInitial + ref::kOptimCount));
    for (int step = 0; step < ref::kOptimSteps; ++step) {
      const double* g = ref::kOptimGradients + step * ref::kOptimCount;
      fixture_step<T>(c, step, std::vector<T>(g, g + ref::kOptimCount), state);
      const double* want = expected + (c * ref::kOptimSteps + step) * ref::kOptimCount;
      for (int i = 0; i < ref::kOptimCount; ++i)
        ASSERT_NEAR(state.param[i], want[i], atol + rtol * std::fabs(want[i]))
            << "case " << c << " (kind " << ref::kOptimCases[c * (1 + ref::kOptimHyperSlots)] << ") step " << step
            << " element " << i;
    }
  }
}

TEST(OptimKernels, MatchTorchOptimDouble) { check_against_torch<double>(ref::kOptimExpectedDouble, 1e-13, 1e-15); }
TEST(OptimKernels, MatchTorchOptimFloat) { check_against_torch<float>(ref::kOptimExpectedFloat, 1e-6, 1e-7); }

// ---- naive double references on a large vector (the threaded path) ------------------------------------------

std::vector<double> random_vector(size_t n, std::mt19937& rng, double low, double high) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<double> v(n);
  for (auto& x : v) x = uniform(rng);
  return v;
}

void expect_vectors_near(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-14 * (1 + std::fabs(want[i]))) << what << " element " << i;
}

constexpr size_t kLargeCount = 100003;

TEST(OptimKernels, SgdMatchesNaiveOnLargeVector) {
  std::mt19937 rng(41);
  const SgdHyper h{.lr = 0.03, .momentum = 0.9, .dampening = 0, .weight_decay = 1e-3, .nesterov = true};
  std::vector<double> param = random_vector(kLargeCount, rng, -1, 1), buffer(kLargeCount);
  std::vector<double> want = param, want_buffer(kLargeCount);
  for (int step = 0; step < 3; ++step) {
    const auto grad = random_vector(kLargeCount, rng, -1, 1);
    cpu::sgd_update<double>(kLargeCount, h, step == 0, param.data(), grad.data(), buffer.data());
    for (size_t i = 0; i < kLargeCount; ++i) {
      const double d = grad[i] + h.weight_decay * want[i];
      want_buffer[i] = step == 0 ? d : h.momentum * want_buffer[i] + d;
      want[i] -= h.lr * (d + h.momentum * want_buffer[i]);
    }
  }
  expect_vectors_near(param, want, "sgd param");
  expect_vectors_near(buffer, want_buffer, "sgd momentum buffer");
}

TEST(OptimKernels, AdamAndAdamWMatchNaiveOnLargeVector) {
  std::mt19937 rng(42);
  for (bool decoupled : {false, true}) {
    AdamHyper h{.lr = 2e-3, .beta1 = 0.85, .beta2 = 0.995, .eps = 1e-7, .weight_decay = 0.02};
    h.decoupled_weight_decay = decoupled;
    std::vector<double> param = random_vector(kLargeCount, rng, -1, 1), m(kLargeCount), v(kLargeCount);
    std::vector<double> want = param, want_m(kLargeCount), want_v(kLargeCount);
    for (int step = 1; step <= 3; ++step) {
      h.step = step;
      const auto grad = random_vector(kLargeCount, rng, -1, 1);
      cpu::adam_update<double>(kLargeCount, h, param.data(), grad.data(), m.data(), v.data());
      for (size_t i = 0; i < kLargeCount; ++i) {
        double g = grad[i];
        if (decoupled) want[i] *= 1 - h.lr * h.weight_decay;
        else g += h.weight_decay * want[i];
        want_m[i] = h.beta1 * want_m[i] + (1 - h.beta1) * g;
        want_v[i] = h.beta2 * want_v[i] + (1 - h.beta2) * g * g;
        const double m_hat = want_m[i] / (1 - std::pow(h.beta1, step));
        const double v_hat = want_v[i] / (1 - std::pow(h.beta2, step));
        // PyTorch's eps sits outside the bias-corrected sqrt: sqrt(v)/sqrt(bc2) + eps.
        want[i] -= h.lr * m_hat / (std::sqrt(v_hat) + h.eps);
      }
    }
    const std::string what = decoupled ? "adamw" : "adam";
    expect_vectors_near(param, want, what + " param");
    expect_vectors_near(m, want_m, what + " exp_avg");
    expect_vectors_near(v, want_v, what + " exp_avg_sq");
  }
}

// RMSprop in both eps conventions, centered with momentum and weight decay.
TEST(OptimKernels, RmspropMatchesNaiveIncludingEpsInsideSqrt) {
  std::mt19937 rng(43);
  for (bool eps_inside_sqrt : {false, true}) {
    const RmspropHyper h{.lr = 1e-2, .alpha = 0.9, .eps = 1e-3, .weight_decay = 0.01, .momentum = 0.7,
                         .centered = true, .eps_inside_sqrt = eps_inside_sqrt};
    std::vector<double> param = random_vector(kLargeCount, rng, -1, 1), square(kLargeCount), buffer(kLargeCount),
                        mean(kLargeCount);
    std::vector<double> want = param, want_square(kLargeCount), want_buffer(kLargeCount), want_mean(kLargeCount);
    for (int step = 0; step < 3; ++step) {
      const auto grad = random_vector(kLargeCount, rng, -1, 1);
      cpu::rmsprop_update<double>(kLargeCount, h, param.data(), grad.data(), square.data(), buffer.data(),
                                  mean.data());
      for (size_t i = 0; i < kLargeCount; ++i) {
        const double g = grad[i] + h.weight_decay * want[i];
        want_square[i] = h.alpha * want_square[i] + (1 - h.alpha) * g * g;
        want_mean[i] = h.alpha * want_mean[i] + (1 - h.alpha) * g;
        const double variance = want_square[i] - want_mean[i] * want_mean[i];
        const double denominator = eps_inside_sqrt ? std::sqrt(variance + h.eps) : std::sqrt(variance) + h.eps;
        want_buffer[i] = h.momentum * want_buffer[i] + g / denominator;
        want[i] -= h.lr * want_buffer[i];
      }
    }
    const std::string what = eps_inside_sqrt ? "rmsprop eps inside sqrt" : "rmsprop";
    expect_vectors_near(param, want, what + " param");
    expect_vectors_near(square, want_square, what + " square_avg");
    expect_vectors_near(mean, want_mean, what + " grad_avg");
    expect_vectors_near(buffer, want_buffer, what + " momentum buffer");
  }
  // The two conventions differ where v is comparable to eps.
  const RmspropHyper torch_style{.lr = 1.0, .alpha = 0.0, .eps = 0.25};
  RmspropHyper tf_style = torch_style;
  tf_style.eps_inside_sqrt = true;
  double p1 = 0, p2 = 0, s1 = 0, s2 = 0;
  const double g = 1.0;
  cpu::rmsprop_update<double>(1, torch_style, &p1, &g, &s1, nullptr, nullptr);
  cpu::rmsprop_update<double>(1, tf_style, &p2, &g, &s2, nullptr, nullptr);
  EXPECT_DOUBLE_EQ(p1, -1.0 / 1.25);
  EXPECT_DOUBLE_EQ(p2, -1.0 / std::sqrt(1.25));
}

TEST(OptimKernels, InvalidArgumentsThrow) {
  double param = 1, grad = 1, state = 0;
  EXPECT_THROW(cpu::sgd_update<double>(1, SgdHyper{.momentum = 0.9}, false, &param, &grad, nullptr), Error);
  EXPECT_THROW(cpu::sgd_update<double>(1, SgdHyper{.momentum = 0, .nesterov = true}, false, &param, &grad, &state),
               Error);
  EXPECT_THROW(cpu::adam_update<double>(1, AdamHyper{.step = 0}, &param, &grad, &state, &state), Error);
  EXPECT_THROW(cpu::rmsprop_update<double>(1, RmspropHyper{.centered = true}, &param, &grad, &state, nullptr, nullptr),
               Error);
  EXPECT_THROW(cpu::rmsprop_update<double>(1, RmspropHyper{.momentum = 0.5}, &param, &grad, &state, nullptr, nullptr),
               Error);
}

}  // namespace
}  // namespace pneuma::kernels
