// Confidence intervals that need no resampling: the Wilson score interval for a proportion, the standard normal
// quantile it uses, and the percentile of a sample (linear interpolation, NumPy's default "linear" method) that the
// bootstrap uses.
#pragma once
#include <cstdint>
#include <vector>

namespace pneuma::metrics {

struct Interval {
  double low = 0.0, high = 0.0;
};

// Φ⁻¹(p) for p in (0, 1), accurate to ~1e-15 (Acklam's rational approximation refined by one Halley step).
double normal_quantile(double p);

// Wilson score interval for `successes` out of `trials` at the two-sided `confidence` level (e.g. 0.95).
// trials == 0 gives [0, 1].
Interval wilson_interval(int64_t successes, int64_t trials, double confidence = 0.95);

// The q-quantile (q in [0, 1]) of `values` (any order; copied and sorted), with linear interpolation between
// order statistics: numpy.percentile(values, 100·q). `values` must not be empty.
double percentile(std::vector<double> values, double q);

}  // namespace pneuma::metrics
