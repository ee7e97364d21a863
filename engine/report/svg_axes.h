// Axis helpers shared by the SVG charts: "nice" tick positions (steps of 1, 2 or 5 × 10^k) covering a data range,
// and tick labels with just enough decimals.
#pragma once
#include <string>
#include <vector>

namespace pneuma::report {

struct AxisTicks {
  double min = 0, max = 1;     // the axis range (the outer ticks, or the fixed range asked for)
  std::vector<double> values;  // tick positions within [min, max]
  double step = 0.2;
};

// Ticks for data in [low, high] (NaN-free, low <= high); a degenerate range is widened. With fixed_range the
// axis spans exactly [low, high]; otherwise it is extended outwards to whole steps.
AxisTicks nice_ticks(double low, double high, int target_count, bool integer_only, bool fixed_range);

std::string tick_label(double value, const AxisTicks& ticks);

}  // namespace pneuma::report
