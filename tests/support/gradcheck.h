// Finite-difference gradient checking for differentiable ops (header-only, for tests).
//
// gradcheck(function, inputs) differentiates with respect to the inputs marked requires_grad (the others — integer
// targets, constant weights — are passed through untouched). It projects the output onto a fixed random tensor R,
// L = Σ out ⊙ R, so one backward pass (out.backward(R)) gives dL/dx for every input element, and compares that with
// central differences (L(x + eps) − L(x − eps)) / 2eps evaluated in double precision, element by element, with
// |analytic − numeric| <= atol + rtol·|numeric|. The failure message names the worst element.
//
// The function is called many times; it must be deterministic. An op that draws random numbers (dropout) must get a
// fresh Generator with the same seed on every call: wrap it with with_fresh_generator(seed, function) below. The
// checker verifies determinism before differencing.
//
// The finite differences call the function thousands of times on tiny tensors, so they run with one kernel thread
// (thread start-up would dominate, badly so on a loaded machine); the analytic pass uses the default thread count.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "kernels/parallel.h"

namespace pneuma::testing {

using GradcheckFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t projection_seed = 0x9e3779b97f4a7c15ull;  // seed of the random projection R
};

namespace gradcheck_detail {

// "[1, 0, 3]": the multi-index of flat element `flat` in a row-major tensor of `shape`.
inline std::string multi_index(const Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (int axis = static_cast<int>(shape.size()) - 1; axis >= 0; --axis) {
    index[axis] = shape[axis] == 0 ? 0 : flat % shape[axis];
    flat = shape[axis] == 0 ? 0 : flat / shape[axis];
  }
  return shape_string(index);
}

// Limits the kernels to one thread for the lifetime of the guard.
class SingleThreadGuard {
 public:
  SingleThreadGuard() : previous_(kernels::max_threads()) { kernels::set_max_threads(1); }
  ~SingleThreadGuard() { kernels::set_max_threads(previous_); }
  SingleThreadGuard(const SingleThreadGuard&) = delete;
  SingleThreadGuard& operator=(const SingleThreadGuard&) = delete;

 private:
  int previous_;
};

// Σ out ⊙ R in double.
inline double project(const Tensor& output, const std::vector<double>& projection) {
  const std::vector<double> values = output.to_vector<double>();
  double total = 0;
  for (size_t i = 0; i < values.size(); ++i) total += values[i] * projection[i];
  return total;
}

}  // namespace gradcheck_detail

inline ::testing::AssertionResult gradcheck(const GradcheckFunction& function, const std::vector<Tensor>& inputs,
                                            const GradcheckOptions& options = {}) {
  using gradcheck_detail::multi_index;
  using gradcheck_detail::project;

  // ---- which inputs are checked ---------------------------------------------------------------------------
  std::vector<size_t> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != DType::f64 || !inputs[i].device().is_cpu())
      return ::testing::AssertionFailure() << "gradcheck: input " << i << " is " << inputs[i].describe()
                                           << "; checked inputs must be f64 on the CPU";
    checked.push_back(i);
  }
  if (checked.empty()) return ::testing::AssertionFailure() << "gradcheck: no input requires a gradient";

  // ---- analytic gradients: fresh leaves, one backward with gradient R ------------------------------------------
  std::vector<Tensor> leaves = inputs;
  for (size_t i : checked) {
    leaves[i] = inputs[i].detach().clone();
    leaves[i].set_requires_grad(true);
  }
  Tensor output = function(leaves);
  if (!output.defined()) return ::testing::AssertionFailure() << "gradcheck: the function returned no tensor";
  if (output.dtype() != DType::f64)
    return ::testing::AssertionFailure() << "gradcheck: output is " << output.describe() << ", expected f64";
  if (!output.requires_grad())
    return ::testing::AssertionFailure() << "gradcheck: output " << output.describe()
                                         << " does not require grad (nothing was recorded)";
  Generator projection_generator(options.projection_seed);
  const Tensor projection = Tensor::normal(output.shape(), 0.0, 1.0, projection_generator, DType::f64);
  const std::vector<double> projection_values = projection.to_vector<double>();
  output.backward(projection);
  const double reference_value = project(output, projection_values);
  output = Tensor();

  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || inputs[i].requires_grad()) continue;
    if (inputs[i].grad().defined())
      return ::testing::AssertionFailure() << "gradcheck: constant input " << i << " received a gradient";
  }

  // ---- numeric gradients: central differences on detached copies, no recording ---------------------------------
  NoGradGuard no_grad;
  gradcheck_detail::SingleThreadGuard single_thread;
  std::vector<Tensor> probes = inputs;
  for (size_t i : checked) probes[i] = inputs[i].detach().clone();
  const double first_value = project(function(probes), projection_values);
  const double repeat_value = project(function(probes), projection_values);
  if (repeat_value != first_value)
    return ::testing::AssertionFailure() << "gradcheck: the function is not deterministic (L = " << first_value
                                         << " then " << repeat_value
                                         << "); random ops need a fresh Generator on every call";
  if (std::abs(first_value - reference_value) > 1e-12 * (1 + std::abs(reference_value)))
    return ::testing::AssertionFailure() << "gradcheck: the function gives L = " << reference_value
                                         << " when recording and " << first_value << " under NoGradGuard";

  double worst_ratio = -1, max_abs_error = 0;
  std::ostringstream worst;
  int64_t failures = 0, total = 0;
  for (size_t i : checked) {
    const Tensor& gradient = leaves[i].grad();
    if (gradient.defined() && gradient.shape() != inputs[i].shape())
      return ::testing::AssertionFailure() << "gradcheck: gradient of input " << i << " has shape "
                                           << shape_string(gradient.shape()) << ", input has "
                                           << shape_string(inputs[i].shape());
    const std::vector<double> analytic =
        gradient.defined() ? gradient.to_vector<double>() : std::vector<double>(inputs[i].numel(), 0.0);
    double* values = probes[i].data<double>();
    for (int64_t j = 0; j < probes[i].numel(); ++j) {
      const double original = values[j];
      values[j] = original + options.eps;
      const double plus = project(function(probes), projection_values);
      values[j] = original - options.eps;
      const double minus = project(function(probes), projection_values);
      values[j] = original;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double error = std::abs(analytic[j] - numeric);
      const double allowed = options.atol + options.rtol * std::abs(numeric);
      const double ratio = std::isfinite(error) ? error / allowed : INFINITY;
      ++total;
      max_abs_error = std::max(max_abs_error, error);
      if (!(error <= allowed)) ++failures;
      if (ratio > worst_ratio || std::isnan(error)) {
        worst_ratio = ratio;
        worst.str("");
        worst << std::setprecision(10) << "input " << i << " " << shape_string(inputs[i].shape()) << " element "
              << multi_index(inputs[i].shape(), j) << ": analytic " << analytic[j] << ", numeric " << numeric
              << ", |difference| " << error << " (allowed " << allowed << ")";
        if (!gradient.defined()) worst << " [no gradient was produced]";
      }
    }
  }
  if (failures > 0)
    return ::testing::AssertionFailure() << "gradcheck: " << failures << " of " << total
                                         << " gradient elements out of tolerance; worst: " << worst.str();
  return ::testing::AssertionSuccess() << "max |analytic - numeric| = " << max_abs_error;
}

// Wraps a function that draws random numbers (dropout, drop_path) so that every call gets a fresh Generator(seed),
// hence the same mask on every evaluation.
inline GradcheckFunction with_fresh_generator(
    uint64_t seed, std::function<Tensor(const std::vector<Tensor>&, Generator&)> function) {
  return [seed, function = std::move(function)](const std::vector<Tensor>& inputs) {
    Generator generator(seed);
    return function(inputs, generator);
  };
}

// A random f64 leaf that requires a gradient (uniform in [low, high)).
inline Tensor random_leaf(const Shape& shape, Generator& generator, double low = -1.0, double high = 1.0) {
  Tensor t = Tensor::uniform(shape, low, high, generator, DType::f64);
  t.set_requires_grad(true);
  return t;
}

// A random f64 constant (no gradient).
inline Tensor random_constant(const Shape& shape, Generator& generator, double low = -1.0, double high = 1.0) {
  return Tensor::uniform(shape, low, high, generator, DType::f64);
}

}  // namespace pneuma::testing
