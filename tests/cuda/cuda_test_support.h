// Shared helpers for the CUDA-vs-CPU tests (header-only). Nothing here touches a CUDA API directly: it goes through
// the engine (cuda_built(), cuda_device_count(), Tensor::to), so this header compiles in CPU-only builds too and
// every test that starts with PNEUMA_REQUIRE_GPU() skips there with a clear message.
//
//   TEST(CudaActivation, ReluForward) {
//     PNEUMA_REQUIRE_GPU();
//     Tensor x = testing::random_uniform({3, 17, 17, 37}, -2, 2, 11);            // fresh, seeded, on the CPU
//     Tensor y = testing::poisoned(x.shape(), Device::cuda());                      // NaN-filled output
//     kernels::cuda::relu_forward(x.numel(), testing::on_gpu(x).data<float>(), y.data<float>());
//     EXPECT_TRUE(testing::expect_close("relu", y, reference, {.atol = 0, .rtol = 0}));
//   }
//
// Tests that call kernels::cuda functions directly wrap those calls in `#if PNEUMA_WITH_CUDA` (the symbols are not
// linked in CPU-only builds); the TEST itself exists in every build and PNEUMA_REQUIRE_GPU() skips it there.
//
// expect_close compares element by element with |got - ref| <= atol + rtol·|ref| (NaN in either fails), reports
// max abs, max rel and NMSE, and records the max abs error as a GoogleTest property ("max_abs_error.<label>"), so the
// JSON report of `pneuma_tests --gtest_output=json:...` (written by tools/gpu_check.sh) carries every test's error.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/rng.h"
#include "engine/tensor.h"

// Skips the current test (and says why) unless this build has the CUDA backend and the driver reports a device.
#define PNEUMA_REQUIRE_GPU()                                                                                  \
  do {                                                                                                        \
    if (!::pneuma::cuda_built())                                                                              \
      GTEST_SKIP() << "no CUDA device: this build has no CUDA backend (configured with -DPNEUMA_CUDA=OFF)";   \
    if (::pneuma::cuda_device_count() == 0)                                                                   \
      GTEST_SKIP() << "no CUDA device: the CUDA driver reports no GPU on this machine";                       \
  } while (0)

namespace pneuma::testing {

// ---- inputs -------------------------------------------------------------------------------------
// Fresh random f32 tensors on the CPU from their own seeded generator (never zeros, never shared state).
inline Tensor random_uniform(const Shape& shape, double low, double high, uint64_t seed) {
  Generator generator(seed);
  return Tensor::uniform(shape, low, high, generator);
}
inline Tensor random_normal(const Shape& shape, double mean, double stddev, uint64_t seed) {
  Generator generator(seed);
  return Tensor::normal(shape, mean, stddev, generator);
}
// Random class labels in [0, classes) as i32 (the losses' target type), on the CPU.
inline Tensor random_labels(int64_t count, int64_t classes, uint64_t seed) {
  Generator generator(seed);
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (auto& label : labels) label = static_cast<int32_t>(generator.integer(0, classes));
  return Tensor::from_vector(labels, {count});
}

// A copy of a CPU tensor on the first GPU.
inline Tensor on_gpu(const Tensor& tensor) { return tensor.to(Device::cuda()); }

// An output buffer filled with NaN before a kernel runs, so any element the kernel fails to write shows up.
inline Tensor poisoned(const Shape& shape, Device device = Device::cuda(), DType dtype = DType::f32) {
  Tensor tensor = Tensor::empty(shape, dtype, device);
  tensor.fill(std::numeric_limits<double>::quiet_NaN());
  return tensor;
}

// ---- comparison ---------------------------------------------------------------------------------
struct Tolerance {
  double atol = 1e-5;
  double rtol = 1e-4;
};

struct ErrorStats {
  double max_abs = 0;    // max |got - ref|
  double max_rel = 0;    // max |got - ref| / |ref| over elements with ref != 0
  double nmse = 0;       // Σ (got - ref)² / Σ ref²  (0 when the reference is all zeros and got matches)
  int64_t failures = 0;  // elements outside atol + rtol·|ref|, NaN included
  int64_t worst = -1;    // flat index of the element furthest outside its tolerance (or the first NaN)
};

inline ErrorStats error_stats(const std::vector<double>& got, const std::vector<double>& ref, Tolerance tolerance) {
  ErrorStats stats;
  double squared_error = 0, squared_reference = 0, worst_excess = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double difference = std::fabs(got[i] - ref[i]);
    const double allowed = tolerance.atol + tolerance.rtol * std::fabs(ref[i]);
    if (std::isnan(difference)) {
      ++stats.failures;
      if (worst_excess < std::numeric_limits<double>::infinity()) {  // the first NaN is the worst element
        worst_excess = std::numeric_limits<double>::infinity();
        stats.worst = static_cast<int64_t>(i);
      }
      stats.max_abs = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    if (!std::isnan(stats.max_abs)) stats.max_abs = std::max(stats.max_abs, difference);
    if (ref[i] != 0) stats.max_rel = std::max(stats.max_rel, difference / std::fabs(ref[i]));
    squared_error += difference * difference;
    squared_reference += ref[i] * ref[i];
    if (difference > allowed) {
      ++stats.failures;
      if (difference - allowed > worst_excess) {
        worst_excess = difference - allowed;
        stats.worst = static_cast<int64_t>(i);
      }
    }
  }
  stats.nmse = squared_reference > 0 ? squared_error / squared_reference : squared_error;
  return stats;
}

// Records a test's figure in the GoogleTest XML/JSON output ("max_abs_error.forward" = "3.1e-07").
inline void record_error(const std::string& label, const ErrorStats& stats) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.3e", stats.max_abs);
  ::testing::Test::RecordProperty("max_abs_error." + label, text);
  std::snprintf(text, sizeof(text), "%.3e", stats.max_rel);
  ::testing::Test::RecordProperty("max_rel_error." + label, text);
  std::snprintf(text, sizeof(text), "%.3e", stats.nmse);
  ::testing::Test::RecordProperty("nmse." + label, text);
}

// Compares two tensors of the same shape (any device, any floating dtype; copied to the host in double), records
// the error figures under `label` and returns a GoogleTest assertion result naming the worst element.
inline ::testing::AssertionResult expect_close(const std::string& label, const Tensor& got, const Tensor& reference,
                                               Tolerance tolerance = {}) {
  if (got.shape() != reference.shape())
    return ::testing::AssertionFailure() << label << ": shape " << shape_string(got.shape()) << " vs reference "
                                         << shape_string(reference.shape());
  const std::vector<double> got_values = got.to_vector<double>();
  const std::vector<double> reference_values = reference.to_vector<double>();
  const ErrorStats stats = error_stats(got_values, reference_values, tolerance);
  record_error(label, stats);
  std::ostringstream summary;
  summary << label << " " << shape_string(got.shape()) << ": max abs " << stats.max_abs << ", max rel "
          << stats.max_rel << ", NMSE " << stats.nmse << " (atol " << tolerance.atol << ", rtol " << tolerance.rtol
          << ")";
  if (stats.failures == 0) return ::testing::AssertionSuccess() << summary.str();
  const size_t worst = static_cast<size_t>(stats.worst);
  return ::testing::AssertionFailure() << summary.str() << "; " << stats.failures << " of " << got_values.size()
                                       << " elements out of tolerance, worst at flat index " << worst << ": got "
                                       << got_values[worst] << ", reference " << reference_values[worst];
}

// For whole networks, where a few activations sitting on a kink (ReLU at 0) may take the other branch on the other
// device and move a handful of gradient elements: NMSE = Σ (got − ref)² / Σ ref² <= max_nmse, NaN failing.
inline ::testing::AssertionResult expect_nmse(const std::string& label, const Tensor& got, const Tensor& reference,
                                              double max_nmse) {
  if (got.shape() != reference.shape())
    return ::testing::AssertionFailure() << label << ": shape " << shape_string(got.shape()) << " vs reference "
                                         << shape_string(reference.shape());
  const ErrorStats stats = error_stats(got.to_vector<double>(), reference.to_vector<double>(), {.atol = 0, .rtol = 0});
  record_error(label, stats);
  std::ostringstream summary;
  summary << label << " " << shape_string(got.shape()) << ": NMSE " << stats.nmse << " (limit " << max_nmse
          << "), max abs " << stats.max_abs << ", max rel " << stats.max_rel;
  if (stats.nmse <= max_nmse && !std::isnan(stats.max_abs)) return ::testing::AssertionSuccess() << summary.str();
  return ::testing::AssertionFailure() << summary.str();
}

// Bit-for-bit equality (e.g. dropout masks): values compared as doubles, NaN never equal.
inline ::testing::AssertionResult expect_identical(const std::string& label, const Tensor& got,
                                                   const Tensor& reference) {
  return expect_close(label, got, reference, {.atol = 0, .rtol = 0});
}

}  // namespace pneuma::testing
