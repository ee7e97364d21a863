// Horizontal SVG bar charts with interval whiskers.
#include "engine/report/svg_bar_chart.h"

#include <algorithm>
#include <cmath>

#include "engine/report/html_escape.h"
#include "engine/report/svg_axes.h"
#include "engine/report/svg_line_chart.h"
#include "kernels/error.h"

namespace pneuma::report {
namespace {

std::string coordinate(double v) { return format_number(v, 1); }

}  // namespace

std::string bar_chart_svg(const std::vector<Bar>& bars, const BarChartOptions& options) {
  PNEUMA_CHECK(!bars.empty(), "bar_chart_svg: no bars");
  PNEUMA_CHECK(options.value_max > options.value_min, "bar_chart_svg: empty value range [%g, %g]", options.value_min,
               options.value_max);
  size_t longest = 0;
  for (const Bar& b : bars) longest = std::max(longest, b.label.size());
  const double left = 14 + 6.5 * static_cast<double>(longest), right = 60;
  const double top = options.title.empty() ? 10 : 30, row = 26, bottom = 40;
  const double height = top + row * static_cast<double>(bars.size()) + bottom;
  const double plot_width = options.width - left - right;
  PNEUMA_CHECK(plot_width > 40, "bar_chart_svg: width %d leaves no room for the bars", options.width);
  const AxisTicks ticks = nice_ticks(options.value_min, options.value_max, 5, false, true);
  auto px = [&](double v) {
    return left + std::clamp((v - ticks.min) / (ticks.max - ticks.min), 0.0, 1.0) * plot_width;
  };

  std::string svg = "<svg class=\"chart\" width=\"" + std::to_string(options.width) + "\" height=\"" +
                    coordinate(height) + "\" viewBox=\"0 0 " + std::to_string(options.width) + " " +
                    coordinate(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<title>" + escape_html(options.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(options.width) + "\" height=\"" + coordinate(height) +
         "\" fill=\"#ffffff\"/>\n";
  if (!options.title.empty())
    svg += "<text x=\"" + coordinate(options.width / 2.0) +
           "\" y=\"19\" text-anchor=\"middle\" font-size=\"13\" "
           "font-weight=\"bold\">" +
           escape_html(options.title) + "</text>\n";
  const double plot_bottom = top + row * static_cast<double>(bars.size());
  for (double v : ticks.values) {
    const std::string x = coordinate(px(v));
    svg += "<line x1=\"" + x + "\" y1=\"" + coordinate(top) + "\" x2=\"" + x + "\" y2=\"" + coordinate(plot_bottom) +
           "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + coordinate(plot_bottom + 14) + "\" text-anchor=\"middle\">" +
           escape_html(tick_label(v, ticks)) + "</text>\n";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row * static_cast<double>(i);
    const std::string color = palette_color(i);
    svg += "<text x=\"" + coordinate(left - 6) + "\" y=\"" + coordinate(y + row / 2 + 4) + "\" text-anchor=\"end\">" +
           escape_html(b.label) + "</text>\n";
    if (std::isfinite(b.value))
      svg += "<rect x=\"" + coordinate(px(ticks.min)) + "\" y=\"" + coordinate(y + 5) + "\" width=\"" +
             coordinate(px(b.value) - px(ticks.min)) + "\" height=\"" + coordinate(row - 10) + "\" fill=\"" + color +
             "\" fill-opacity=\"0.75\"/>\n";
    if (std::isfinite(b.low) && std::isfinite(b.high)) {
      const std::string mid = coordinate(y + row / 2), low = coordinate(px(b.low)), high = coordinate(px(b.high));
      svg += "<path d=\"M" + low + " " + coordinate(y + 8) + " V" + coordinate(y + row - 8) + " M" + low + " " + mid +
             " H" + high + " M" + high + " " + coordinate(y + 8) + " V" + coordinate(y + row - 8) +
             "\" stroke=\"#222222\" stroke-width=\"1.3\" fill=\"none\"/>\n";
    }
    svg += "<text x=\"" + coordinate(left + plot_width + 6) + "\" y=\"" + coordinate(y + row / 2 + 4) + "\">" +
           escape_html(format_number(b.value, 3)) + "</text>\n";
  }
  svg += "<line x1=\"" + coordinate(px(ticks.min)) + "\" y1=\"" + coordinate(top) + "\" x2=\"" +
         coordinate(px(ticks.min)) + "\" y2=\"" + coordinate(plot_bottom) + "\" stroke=\"#888888\"/>\n";
  if (!options.value_label.empty())
    svg += "<text x=\"" + coordinate(left + plot_width / 2) + "\" y=\"" + coordinate(height - 8) +
           "\" text-anchor=\"middle\">" + escape_html(options.value_label) + "</text>\n";
  svg += "</svg>";
  return svg;
}

}  // namespace pneuma::report
