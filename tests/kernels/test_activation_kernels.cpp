// CPU activation kernels against a double-precision reference, PyTorch 1.13 values (including the derivative
// conventions at the kinks), and finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/activation.h"

namespace {

using pneuma::kernels::Activation;
namespace cpu = pneuma::kernels::cpu;

const Activation kAllActivations[] = {
    Activation::identity,     Activation::relu,       Activation::relu6, Activation::sigmoid,   Activation::silu,
    Activation::hard_sigmoid, Activation::hard_swish, Activation::gelu,  Activation::gelu_tanh, Activation::tanh};

double clamp(double x, double low, double high) { return x < low ? low : (x > high ? high : x); }

double reference_forward(Activation a, double x) {
  const double sigmoid = 1.0 / (1.0 + std::exp(-x));
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0.0;
    case Activation::relu6:
      return clamp(x, 0.0, 6.0);
    case Activation::sigmoid:
      return sigmoid;
    case Activation::silu:
      return x * sigmoid;
    case Activation::hard_sigmoid:
      return clamp(x + 3.0, 0.0, 6.0) / 6.0;
    case Activation::hard_swish:
      return x * clamp(x + 3.0, 0.0, 6.0) / 6.0;
    case Activation::gelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::gelu_tanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::tanh:
      return std::tanh(x);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// Analytic derivative away from the kinks.
double reference_derivative(Activation a, double x) {
  const double sigmoid = 1.0 / (1.0 + std::exp(-x));
  switch (a) {
    case Activation::identity:
      return 1.0;
    case Activation::relu:
      return x > 0 ? 1.0 : 0.0;
    case Activation::relu6:
      return (x > 0 && x < 6) ? 1.0 : 0.0;
    case Activation::sigmoid:
      return sigmoid * (1.0 - sigmoid);
    case Activation::silu:
      return sigmoid + x * sigmoid * (1.0 - sigmoid);
    case Activation::hard_sigmoid:
      return (x > -3 && x < 3) ? 1.0 / 6.0 : 0.0;
    case Activation::hard_swish:
      return x < -3 ? 0.0 : (x > 3 ? 1.0 : (2.0 * x + 3.0) / 6.0);
    case Activation::gelu:
      return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    case Activation::gelu_tanh: {
      const double beta = std::sqrt(2.0 / M_PI), kappa = 0.044715;
      const double t = std::tanh(beta * (x + kappa * x * x * x));
      return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * beta * (1.0 + 3.0 * kappa * x * x);
    }
    case Activation::tanh:
      return 1.0 - std::tanh(x) * std::tanh(x);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool near_kink(double x) {
  for (double kink : {-3.0, 0.0, 3.0, 6.0})
    if (std::abs(x - kink) < 1e-3) return true;
  return false;
}

// Uniform in [-8, 8], away from the kinks of relu / relu6 / hard_*.
template <class T>
std::vector<T> random_inputs(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-8.0, 8.0);
  std::vector<T> values(count);
  for (T& v : values) {
    double x;
    do x = uniform(generator);
    while (near_kink(x));
    v = static_cast<T>(x);
  }
  return values;
}

template <class T>
std::vector<T> nan_filled(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

template <class T>
constexpr double kTolerance = std::is_same_v<T, float> ? 2e-6 : 1e-13;

template <class T>
bool close(T got, double want, double tolerance) {
  return std::isfinite(static_cast<double>(got)) &&
         std::abs(static_cast<double>(got) - want) <= tolerance * (1.0 + std::abs(want));
}

template <class T>
class ActivationKernels : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ActivationKernels, FloatingTypes);

TYPED_TEST(ActivationKernels, ForwardMatchesReference) {
  using T = TypeParam;
  for (const size_t count : {size_t{1}, size_t{17}, size_t{100003}}) {
    std::vector<T> input = random_inputs<T>(count, 11 + static_cast<uint32_t>(count));
    if (count > 17) input[0] = T(-3), input[1] = T(0), input[2] = T(3), input[3] = T(6), input[4] = T(-0.0);
    for (Activation a : kAllActivations) {
      std::vector<T> output = nan_filled<T>(count);
      cpu::activation_forward(a, static_cast<int64_t>(count), input.data(), output.data());
      for (size_t i = 0; i < count; ++i) {
        const double want = reference_forward(a, static_cast<double>(input[i]));
        ASSERT_TRUE(close(output[i], want, kTolerance<T>))
            << pneuma::kernels::activation_name(a) << "(" << input[i] << "): got " << output[i] << ", want " << want;
      }
    }
  }
}

TYPED_TEST(ActivationKernels, BackwardMatchesReference) {
  using T = TypeParam;
  for (const size_t count : {size_t{5}, size_t{100003}}) {
    const std::vector<T> input = random_inputs<T>(count, 23 + static_cast<uint32_t>(count));
    const std::vector<T> grad_output = random_inputs<T>(count, 29 + static_cast<uint32_t>(count));
    for (Activation a : kAllActivations) {
      std::vector<T> grad_input = nan_filled<T>(count);
      cpu::activation_backward(a, static_cast<int64_t>(count), input.data(), grad_output.data(), grad_input.data());
      for (size_t i = 0; i < count; ++i) {
        const double want =
            static_cast<double>(grad_output[i]) * reference_derivative(a, static_cast<double>(input[i]));
        ASSERT_TRUE(close(grad_input[i], want, 8 * kTolerance<T>))
            << pneuma::kernels::activation_name(a) << " backward at x=" << input[i] << ": got " << grad_input[i]
            << ", want " << want;
      }
    }
  }
}

TEST(ActivationKernels, InPlaceForwardMatchesOutOfPlace) {
  const std::vector<float> input = random_inputs<float>(1001, 5);
  for (Activation a : kAllActivations) {
    std::vector<float> separate = nan_filled<float>(input.size()), in_place = input;
    cpu::activation_forward(a, static_cast<int64_t>(input.size()), input.data(), separate.data());
    cpu::activation_forward(a, static_cast<int64_t>(input.size()), in_place.data(), in_place.data());
    ASSERT_EQ(separate, in_place) << pneuma::kernels::activation_name(a);
  }
}

// Central differences of L(x) = Σ w_i f(x_i) on the double kernel, one input perturbed at a time.
TEST(ActivationKernels, BackwardMatchesFiniteDifferences) {
  const size_t count = 41;
  const std::vector<double> input = random_inputs<double>(count, 31);
  const std::vector<double> weights = random_inputs<double>(count, 37);
  const double eps = 1e-6;
  for (Activation a : kAllActivations) {
    auto loss = [&](const std::vector<double>& x) {
      std::vector<double> y(count);
      cpu::activation_forward(a, static_cast<int64_t>(count), x.data(), y.data());
      double sum = 0;
      for (size_t i = 0; i < count; ++i) sum += weights[i] * y[i];
      return sum;
    };
    std::vector<double> grad_input = nan_filled<double>(count);
    cpu::activation_backward(a, static_cast<int64_t>(count), input.data(), weights.data(), grad_input.data());
    for (size_t i = 0; i < count; ++i) {
      std::vector<double> plus = input, minus = input;
      plus[i] += eps;
      minus[i] -= eps;
      const double numeric = (loss(plus) - loss(minus)) / (2 * eps);
      EXPECT_NEAR(grad_input[i], numeric, 1e-7 + 1e-6 * std::abs(numeric))
          << pneuma::kernels::activation_name(a) << " at x=" << input[i];
    }
  }
}

// Derivatives at the kinks, as PyTorch 1.13's autograd gives them (torch.autograd on size-1 double tensors, the
// scalar kernels; its vectorised CPU hardswish_backward returns 1 instead of 1.5 at x = 3, we follow the scalar and
// CUDA formula).
TEST(ActivationKernels, KinkDerivativesFollowPyTorch) {
  const std::vector<double> points = {-6.0, -3.0, 0.0, 3.0, 6.0};
  const struct {
    Activation activation;
    std::vector<double> derivative;
  } table[] = {
      {Activation::relu, {0, 0, 0, 1, 1}},
      {Activation::relu6, {0, 0, 0, 1, 0}},
      {Activation::hard_sigmoid, {0, 0, 1.0 / 6.0, 0, 0}},
      {Activation::hard_swish, {0, -0.5, 0.5, 1.5, 1}},
  };
  for (const auto& row : table) {
    for (bool single_precision : {false, true}) {
      for (size_t i = 0; i < points.size(); ++i) {
        double got;
        if (single_precision) {
          const float x = static_cast<float>(points[i]), g = 1.0f;
          float result = std::numeric_limits<float>::quiet_NaN();
          cpu::activation_backward(row.activation, 1, &x, &g, &result);
          got = result;
        } else {
          const double x = points[i], g = 1.0;
          got = std::numeric_limits<double>::quiet_NaN();
          cpu::activation_backward(row.activation, 1, &x, &g, &got);
        }
        EXPECT_NEAR(got, row.derivative[i], 1e-7)
            << pneuma::kernels::activation_name(row.activation) << "'(" << points[i] << ")";
      }
    }
  }
}

// Forward values and derivatives printed by PyTorch 1.13 (double tensors) for the inputs below.
TEST(ActivationKernels, SpotValuesMatchPyTorch) {
  const std::vector<double> inputs = {-4.0, -2.5, -0.75, 0.3, 1.7, 5.2};
  const struct {
    Activation activation;
    std::vector<double> value, derivative;
  } table[] = {
      {Activation::sigmoid,
       {0.01798620996209156, 0.07585818002124355, 0.320821300824607, 0.574442516811659, 0.8455347349164652,
        0.9945137011005495},
       {0.017662706213291118, 0.07010371654510815, 0.21789499376181404, 0.24445831169074586, 0.13060574696620808,
        0.005456199423836403}},
      {Activation::silu,
       {-0.07194483984836623, -0.18964545005310887, -0.24061597561845527, 0.1723327550434977, 1.437409049357991,
        5.1714712457228575},
       {-0.05266461489107291, -0.09940111134152683, 0.1574000555032465, 0.6477800103188829, 1.067564504759019,
        1.0228859381044988}},
      // PyTorch's double hardsigmoid_backward uses the float constant 1.0f/6.0f (0.16666667163...); within 1e-8.
      {Activation::hard_sigmoid,
       {0.0, 0.08333333333333333, 0.375, 0.5499999999999999, 0.7833333333333333, 1.0},
       {0.0, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.0}},
      {Activation::hard_swish,
       {-0.0, -0.20833333333333334, -0.28125, 0.16499999999999998, 1.3316666666666668, 5.2},
       {0.0, -0.33333333333333337, 0.25, 0.6, 1.0666666666666667, 1.0}},
      {Activation::gelu,
       {-0.00012668496733247991, -0.015524163314440398, -0.16997051428265111, 0.1853734266566858, 1.6242387133104768,
        5.199999481849832},
       {-0.0005036496612264215, -0.03761108590814519, 0.0007742782607648158, 0.7323277668271099, 1.1153179687821648,
        1.000002688094116}},
      {Activation::gelu_tanh,
       {-7.024594819227126e-05, -0.015084266089998577, -0.17003944483437966, 0.18537092354275922, 1.624105895551156,
        5.199999943124367},
       {-0.00033512319712218684, -0.03795157621266618, 0.001061743862585618, 0.7322954516388018, 1.115914631452605,
        1.0000004090361354}},
      {Activation::tanh,
       {-0.999329299739067, -0.9866142981514303, -0.6351489523872873, 0.2913126124515909, 0.935409070603099,
        0.9999391368861988},
       {0.0013409506830259165, 0.02659222668316057, 0.5965858082813315, 0.9151369618266292, 0.1250098706334466,
        0.00012172252328369297}},
  };
  const std::vector<double> ones(inputs.size(), 1.0);
  for (const auto& row : table) {
    std::vector<double> value = nan_filled<double>(inputs.size()), derivative = nan_filled<double>(inputs.size());
    cpu::activation_forward(row.activation, static_cast<int64_t>(inputs.size()), inputs.data(), value.data());
    cpu::activation_backward(row.activation, static_cast<int64_t>(inputs.size()), inputs.data(), ones.data(),
                             derivative.data());
    for (size_t i = 0; i < inputs.size(); ++i) {
      EXPECT_NEAR(value[i], row.value[i], 1e-12)
          << pneuma::kernels::activation_name(row.activation) << "(" << inputs[i] << ")";
      EXPECT_NEAR(derivative[i], row.derivative[i], 1e-8)
          << pneuma::kernels::activation_name(row.activation) << "'(" << inputs[i] << ")";
    }
  }
}

TEST(ActivationKernels, NamesAreDistinct) {
  std::set<std::string> names;
  for (Activation a : kAllActivations) names.insert(pneuma::kernels::activation_name(a));
  EXPECT_EQ(names.size(), std::size(kAllActivations));
  EXPECT_STREQ(pneuma::kernels::activation_name(Activation::hard_swish), "hard_swish");
}

}  // namespace
