// Nice tick computation and tick labels for the SVG charts.
#include "engine/report/svg_axes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/report/html_escape.h"

namespace pneuma::report {

AxisTicks nice_ticks(double low, double high, int target_count, bool integer_only, bool fixed_range) {
  if (!(high > low)) {  // one value (or none): a unit-sized window around it
    const double pad = low == 0.0 ? 1.0 : std::abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  const double raw_step = (high - low) / std::max(1, target_count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0})
    if (factor * magnitude >= raw_step) {
      step = factor * magnitude;
      break;
    }
  if (integer_only) step = std::max(1.0, std::round(step));
  AxisTicks ticks;
  ticks.step = step;
  if (fixed_range) {
    ticks.min = low;
    ticks.max = high;
  } else {
    ticks.min = std::floor(low / step + 1e-9) * step;
    ticks.max = std::ceil(high / step - 1e-9) * step;
  }
  for (double v = std::ceil(ticks.min / step - 1e-9) * step; v <= ticks.max + step * 1e-9; v += step)
    ticks.values.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return ticks;
}

std::string tick_label(double value, const AxisTicks& ticks) {
  const double largest = std::max(std::abs(ticks.min), std::abs(ticks.max));
  if (largest > 0.0 && (largest < 1e-3 || largest >= 1e6)) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1e", value);
    return buffer;
  }
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(ticks.step) + 1e-9)));
  return format_number(value, decimals);
}

}  // namespace pneuma::report
