// A small SVG heat-map matrix: one coloured cell per value (sequential white→blue scale over [0, max]) with the cell
// text drawn on top, row and column labels and axis titles. Used for confusion matrices.
#pragma once
#include <string>
#include <vector>

namespace pneuma::report {

struct HeatMapOptions {
  std::string title, row_title, column_title;
  int cell_size = 64;
  double scale_max = -1;  // colour of value v is v/scale_max; <= 0 means the largest value in the matrix
};

// values[r][c] sets the colour, cell_text[r][c] is printed in the cell (same shape).
std::string heat_map_svg(const std::vector<std::vector<double>>& values,
                         const std::vector<std::vector<std::string>>& cell_text,
                         const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                         const HeatMapOptions& options);

}  // namespace pneuma::report
