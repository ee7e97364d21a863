// A small horizontal SVG bar chart with optional interval whiskers (per-class recall with bootstrap intervals).
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace pneuma::report {

struct Bar {
  std::string label;
  double value = 0;
  double low = std::numeric_limits<double>::quiet_NaN(), high = std::numeric_limits<double>::quiet_NaN();
};

struct BarChartOptions {
  std::string title, value_label;
  int width = 480;
  double value_min = 0.0, value_max = 1.0;  // the value axis
};

std::string bar_chart_svg(const std::vector<Bar>& bars, const BarChartOptions& options);

}  // namespace pneuma::report
