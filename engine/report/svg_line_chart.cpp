// SVG line charts: axes with nice ticks, grid, series polylines (NaN = gap), optional markers, legend.
#include "engine/report/svg_line_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/report/html_escape.h"
#include "engine/report/svg_axes.h"
#include "kernels/error.h"

namespace pneuma::report {
namespace {

std::string coordinate(double v) { return format_number(v, 1); }

}  // namespace

std::string palette_color(size_t index) {
  // Okabe–Ito, colour-blind safe, without its yellow (too light on white).
  static const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

std::string standalone_svg(const std::string& svg) {
  PNEUMA_CHECK(svg.rfind("<svg ", 0) == 0, "standalone_svg: text does not start with an <svg> element");
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" " + svg.substr(5) +
         "\n";
}

std::string line_chart_svg(const std::vector<LineSeries>& series, const LineChartOptions& options) {
  PNEUMA_CHECK(options.width >= 120 && options.height >= 100, "line_chart_svg: %dx%d is too small", options.width,
               options.height);
  double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
  for (const LineSeries& s : series) {
    PNEUMA_CHECK(s.x.size() == s.y.size(), "line_chart_svg: series '%s' has %zu x and %zu y values", s.name.c_str(),
                 s.x.size(), s.y.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_low = std::min(x_low, s.x[i]);
      x_high = std::max(x_high, s.x[i]);
      y_low = std::min(y_low, s.y[i]);
      y_high = std::max(y_high, s.y[i]);
    }
  }
  if (!std::isfinite(x_low)) {  // nothing to plot: empty unit axes
    x_low = y_low = 0.0;
    x_high = y_high = 1.0;
  }
  const bool x_fixed = options.x_min && options.x_max, y_fixed = options.y_min && options.y_max;
  const AxisTicks x_ticks =
      nice_ticks(options.x_min.value_or(x_low), options.x_max.value_or(x_high), 6, options.integer_x, x_fixed);
  const AxisTicks y_ticks =
      nice_ticks(options.y_min.value_or(y_low), options.y_max.value_or(y_high), 5, false, y_fixed);

  size_t widest_tick = 1;  // the left margin fits the y tick labels and the rotated axis title
  for (double v : y_ticks.values) widest_tick = std::max(widest_tick, tick_label(v, y_ticks).size());
  const double left = 30 + 6.2 * static_cast<double>(widest_tick), right = 14;
  const double top = options.title.empty() ? 12 : 30, bottom = 44;
  const double plot_width = options.width - left - right, plot_height = options.height - top - bottom;
  auto px = [&](double x) {
    return left + std::clamp((x - x_ticks.min) / (x_ticks.max - x_ticks.min), 0.0, 1.0) * plot_width;
  };
  auto py = [&](double y) {
    return top + (1.0 - std::clamp((y - y_ticks.min) / (y_ticks.max - y_ticks.min), 0.0, 1.0)) * plot_height;
  };

  std::string svg = "<svg class=\"chart\" width=\"" + std::to_string(options.width) + "\" height=\"" +
                    std::to_string(options.height) + "\" viewBox=\"0 0 " + std::to_string(options.width) + " " +
                    std::to_string(options.height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<title>" + escape_html(options.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(options.width) + "\" height=\"" +
         std::to_string(options.height) + "\" fill=\"#ffffff\"/>\n";
  if (!options.title.empty())
    svg += "<text x=\"" + coordinate(options.width / 2.0) +
           "\" y=\"19\" text-anchor=\"middle\" font-size=\"13\" "
           "font-weight=\"bold\">" +
           escape_html(options.title) + "</text>\n";
  for (double v : x_ticks.values) {
    const std::string x = coordinate(px(v));
    svg += "<line x1=\"" + x + "\" y1=\"" + coordinate(top) + "\" x2=\"" + x + "\" y2=\"" +
           coordinate(top + plot_height) + "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + coordinate(top + plot_height + 14) + "\" text-anchor=\"middle\">" +
           escape_html(tick_label(v, x_ticks)) + "</text>\n";
  }
  for (double v : y_ticks.values) {
    const std::string y = coordinate(py(v));
    svg += "<line x1=\"" + coordinate(left) + "\" y1=\"" + y + "\" x2=\"" + coordinate(left + plot_width) + "\" y2=\"" +
           y + "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + coordinate(left - 5) + "\" y=\"" + coordinate(py(v) + 4) + "\" text-anchor=\"end\">" +
           escape_html(tick_label(v, y_ticks)) + "</text>\n";
  }
  svg += "<rect x=\"" + coordinate(left) + "\" y=\"" + coordinate(top) + "\" width=\"" + coordinate(plot_width) +
         "\" height=\"" + coordinate(plot_height) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  if (!options.x_label.empty())
    svg += "<text x=\"" + coordinate(left + plot_width / 2) + "\" y=\"" + coordinate(options.height - 8) +
           "\" text-anchor=\"middle\">" + escape_html(options.x_label) + "</text>\n";
  if (!options.y_label.empty())
    svg += "<text transform=\"translate(14 " + coordinate(top + plot_height / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + escape_html(options.y_label) + "</text>\n";
  if (options.diagonal)
    svg += "<line x1=\"" + coordinate(px(x_ticks.min)) + "\" y1=\"" + coordinate(py(y_ticks.min)) + "\" x2=\"" +
           coordinate(px(x_ticks.max)) + "\" y2=\"" + coordinate(py(y_ticks.max)) +
           "\" stroke=\"#aaaaaa\" stroke-dasharray=\"4 3\"/>\n";

  for (size_t index = 0; index < series.size(); ++index) {
    const LineSeries& s = series[index];
    const std::string color = escape_html(s.color.empty() ? palette_color(index) : s.color);
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        pen_down = false;
        continue;
      }
      path += pen_down ? 'L' : 'M';
      path += coordinate(px(s.x[i])) + " " + coordinate(py(s.y[i])) + " ";
      pen_down = true;
    }
    if (!path.empty()) {
      path.pop_back();
      svg += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\"" +
             (s.dashed ? " stroke-dasharray=\"6 3\"" : "") + " stroke-linejoin=\"round\"/>\n";
    }
    if (s.markers)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          svg += "<circle cx=\"" + coordinate(px(s.x[i])) + "\" cy=\"" + coordinate(py(s.y[i])) +
                 "\" r=\"2.5\" fill=\"" + color + "\"/>\n";
  }

  // Legend: a white box with one line sample and name per series.
  if (!series.empty()) {
    size_t longest = 0;
    for (const LineSeries& s : series) longest = std::max(longest, s.name.size());
    const double box_width = 34 + 6.2 * static_cast<double>(longest), row = 15;
    const double box_height = 6 + row * static_cast<double>(series.size());
    const bool at_right = options.legend != LineChartOptions::Legend::bottom_left;
    const bool at_top = options.legend == LineChartOptions::Legend::top_right;
    const double bx = at_right ? left + plot_width - box_width - 6 : left + 6;
    const double by = at_top ? top + 6 : top + plot_height - box_height - 6;
    svg += "<rect x=\"" + coordinate(bx) + "\" y=\"" + coordinate(by) + "\" width=\"" + coordinate(box_width) +
           "\" height=\"" + coordinate(box_height) + "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n";
    for (size_t index = 0; index < series.size(); ++index) {
      const LineSeries& s = series[index];
      const std::string color = escape_html(s.color.empty() ? palette_color(index) : s.color);
      const double y = by + 3 + row * (static_cast<double>(index) + 0.5);
      svg += "<line x1=\"" + coordinate(bx + 6) + "\" y1=\"" + coordinate(y) + "\" x2=\"" + coordinate(bx + 26) +
             "\" y2=\"" + coordinate(y) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" +
             (s.dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>\n";
      svg += "<text x=\"" + coordinate(bx + 30) + "\" y=\"" + coordinate(y + 4) + "\">" + escape_html(s.name) +
             "</text>\n";
    }
  }
  svg += "</svg>";
  return svg;
}

}  // namespace pneuma::report
