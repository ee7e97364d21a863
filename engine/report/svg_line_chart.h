// A small SVG line chart: several named series of (x, y) points on shared linear axes with ticks, grid, axis
// titles and a legend. NaN points are gaps. Returns one <svg> element (no XML prolog), usable inline in HTML or, with
// standalone_svg(), as a file.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace pneuma::report {

struct LineSeries {
  std::string name;
  std::vector<double> x, y;
  std::string color;  // CSS colour; empty = from the default palette by series index
  bool dashed = false;
  bool markers = false;  // draw a dot at each point
};

struct LineChartOptions {
  std::string title, x_label, y_label;
  int width = 480, height = 320;
  std::optional<double> x_min, x_max, y_min, y_max;  // default: the data range (padded)
  bool diagonal = false;                             // a dashed y = x reference line (ROC charts)
  bool integer_x = false;                            // x ticks on whole numbers only (epochs)
  enum class Legend { top_right, bottom_right, bottom_left } legend = Legend::top_right;  // inside the plot area
};

std::string line_chart_svg(const std::vector<LineSeries>& series, const LineChartOptions& options);

// The default categorical palette (colour-blind friendly), cycled.
std::string palette_color(size_t index);

// Adds the XML prolog and xmlns so an inline <svg> string is a valid standalone .svg file.
std::string standalone_svg(const std::string& svg);

}  // namespace pneuma::report
