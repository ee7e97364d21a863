// SVG heat-map matrices (confusion matrices): sequential colour per cell, value text, row/column labels.
#include "engine/report/svg_heat_map.h"

#include <algorithm>
#include <cmath>

#include "engine/report/html_escape.h"
#include "kernels/error.h"

namespace pneuma::report {
namespace {

std::string coordinate(double v) { return format_number(v, 1); }

// White (#f7fbff) to dark blue (#08306b), linear in RGB.
std::string cell_color(double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const int r = static_cast<int>(std::lround(247 + t * (8 - 247)));
  const int g = static_cast<int>(std::lround(251 + t * (48 - 251)));
  const int b = static_cast<int>(std::lround(255 + t * (107 - 255)));
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", r, g, b);
  return buffer;
}

}  // namespace

std::string heat_map_svg(const std::vector<std::vector<double>>& values,
                         const std::vector<std::vector<std::string>>& cell_text,
                         const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                         const HeatMapOptions& options) {
  const size_t rows = values.size(), columns = rows == 0 ? 0 : values[0].size();
  PNEUMA_CHECK(rows > 0 && columns > 0, "heat_map_svg: empty matrix");
  PNEUMA_CHECK(cell_text.size() == rows && row_labels.size() == rows && column_labels.size() == columns,
               "heat_map_svg: %zux%zu values with %zu text rows, %zu row labels, %zu column labels", rows, columns,
               cell_text.size(), row_labels.size(), column_labels.size());
  double maximum = options.scale_max;
  for (size_t r = 0; r < rows; ++r) {
    PNEUMA_CHECK(values[r].size() == columns && cell_text[r].size() == columns, "heat_map_svg: row %zu is ragged", r);
    if (options.scale_max <= 0)
      for (double v : values[r])
        if (std::isfinite(v)) maximum = std::max(maximum, v);
  }
  if (!(maximum > 0)) maximum = 1.0;

  size_t row_label_chars = 0, column_label_chars = 0;
  for (const std::string& l : row_labels) row_label_chars = std::max(row_label_chars, l.size());
  for (const std::string& l : column_labels) column_label_chars = std::max(column_label_chars, l.size());
  const double cell = options.cell_size;
  const bool rotate_columns = 6.5 * static_cast<double>(column_label_chars) > cell - 4;
  const double left = 30 + 6.5 * static_cast<double>(row_label_chars) + 8;
  const double top = options.title.empty() ? 10 : 30;
  const double column_label_height = rotate_columns ? 6.5 * static_cast<double>(column_label_chars) * 0.72 + 16 : 18;
  const double width = left + cell * static_cast<double>(columns) + 12;
  const double height = top + cell * static_cast<double>(rows) + column_label_height + 24;

  std::string svg = "<svg class=\"chart\" width=\"" + coordinate(width) + "\" height=\"" + coordinate(height) +
                    "\" viewBox=\"0 0 " + coordinate(width) + " " + coordinate(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<title>" + escape_html(options.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + coordinate(width) + "\" height=\"" + coordinate(height) +
         "\" fill=\"#ffffff\"/>\n";
  if (!options.title.empty())
    svg += "<text x=\"" + coordinate(width / 2) +
           "\" y=\"19\" text-anchor=\"middle\" font-size=\"13\" "
           "font-weight=\"bold\">" +
           escape_html(options.title) + "</text>\n";
  for (size_t r = 0; r < rows; ++r) {
    const double y = top + cell * static_cast<double>(r);
    svg += "<text x=\"" + coordinate(left - 6) + "\" y=\"" + coordinate(y + cell / 2 + 4) + "\" text-anchor=\"end\">" +
           escape_html(row_labels[r]) + "</text>\n";
    for (size_t c = 0; c < columns; ++c) {
      const double x = left + cell * static_cast<double>(c);
      const double t = values[r][c] / maximum;
      svg += "<rect x=\"" + coordinate(x) + "\" y=\"" + coordinate(y) + "\" width=\"" + coordinate(cell) +
             "\" height=\"" + coordinate(cell) + "\" fill=\"" + cell_color(t) + "\" stroke=\"#ffffff\"/>\n";
      svg += "<text x=\"" + coordinate(x + cell / 2) + "\" y=\"" + coordinate(y + cell / 2 + 4) +
             "\" text-anchor=\"middle\" fill=\"" + (t > 0.55 ? "#ffffff" : "#111111") + "\">" +
             escape_html(cell_text[r][c]) + "</text>\n";
    }
  }
  const double label_y = top + cell * static_cast<double>(rows) + 14;
  for (size_t c = 0; c < columns; ++c) {
    const double x = left + cell * (static_cast<double>(c) + 0.5);
    if (rotate_columns)
      svg += "<text transform=\"translate(" + coordinate(x + 3) + " " + coordinate(label_y - 4) +
             ") rotate(-45)\" text-anchor=\"end\">" + escape_html(column_labels[c]) + "</text>\n";
    else
      svg += "<text x=\"" + coordinate(x) + "\" y=\"" + coordinate(label_y) + "\" text-anchor=\"middle\">" +
             escape_html(column_labels[c]) + "</text>\n";
  }
  if (!options.column_title.empty())
    svg += "<text x=\"" + coordinate(left + cell * static_cast<double>(columns) / 2) + "\" y=\"" +
           coordinate(height - 8) + "\" text-anchor=\"middle\" font-weight=\"bold\">" +
           escape_html(options.column_title) + "</text>\n";
  if (!options.row_title.empty())
    svg += "<text transform=\"translate(14 " + coordinate(top + cell * static_cast<double>(rows) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\" font-weight=\"bold\">" + escape_html(options.row_title) +
           "</text>\n";
  svg += "</svg>";
  return svg;
}

}  // namespace pneuma::report
