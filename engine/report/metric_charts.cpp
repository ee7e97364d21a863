// Confusion-matrix, ROC and PR charts of ClassificationMetrics, inline or as standalone .svg files.
#include "engine/report/metric_charts.h"

#include <cmath>

#include "engine/report/atomic_file.h"
#include "engine/report/html_escape.h"
#include "engine/report/svg_heat_map.h"
#include "engine/report/svg_line_chart.h"

namespace pneuma::report {

std::string confusion_matrix_svg(const metrics::ClassificationMetrics& metrics, bool row_normalised) {
  const size_t k = metrics.confusion.size();
  std::vector<std::vector<double>> values(k, std::vector<double>(k));
  std::vector<std::vector<std::string>> text(k, std::vector<std::string>(k));
  for (size_t r = 0; r < k; ++r) {
    int64_t row_total = 0;
    for (int64_t count : metrics.confusion[r]) row_total += count;
    for (size_t c = 0; c < k; ++c) {
      const auto count = static_cast<double>(metrics.confusion[r][c]);
      if (row_normalised) {
        values[r][c] = row_total > 0 ? count / static_cast<double>(row_total) : 0.0;
        text[r][c] = row_total > 0 ? format_number(values[r][c], 2) : "\u2013";
      } else {
        values[r][c] = count;
        text[r][c] = std::to_string(metrics.confusion[r][c]);
      }
    }
  }
  HeatMapOptions options;
  options.title = row_normalised ? "Confusion matrix (row-normalised)" : "Confusion matrix (counts)";
  options.row_title = "true class";
  options.column_title = "predicted class";
  options.scale_max = row_normalised ? 1.0 : -1.0;
  return heat_map_svg(values, text, metrics.class_names, metrics.class_names, options);
}

std::string roc_curves_svg(const metrics::ClassificationMetrics& metrics) {
  std::vector<LineSeries> series;
  for (size_t c = 0; c < metrics.classes.size(); ++c) {
    const metrics::ClassMetrics& m = metrics.classes[c];
    if (m.roc.thresholds.empty()) continue;
    series.push_back({m.name + " (AUC " + format_number(m.roc_auc, 3) + ")", m.roc.false_positive_rate,
                      m.roc.true_positive_rate, palette_color(c), false, false});
  }
  LineChartOptions options;
  options.title = "ROC curves (one-vs-rest)";
  options.x_label = "false positive rate (1 \u2212 specificity)";
  options.y_label = "true positive rate (sensitivity)";
  options.width = 440;
  options.height = 400;
  options.x_min = options.y_min = 0.0;
  options.x_max = options.y_max = 1.0;
  options.diagonal = true;
  options.legend = LineChartOptions::Legend::bottom_right;
  return line_chart_svg(series, options);
}

std::string precision_recall_curves_svg(const metrics::ClassificationMetrics& metrics) {
  std::vector<LineSeries> series;
  for (size_t c = 0; c < metrics.classes.size(); ++c) {
    const metrics::ClassMetrics& m = metrics.classes[c];
    if (m.precision_recall.precision.empty()) continue;
    // Drawn as the step function whose area is the average precision: in order of increasing recall, precision
    // P_n holds over (R_{n-1}, R_n], so each step rises/falls at R_{n-1} and then runs flat to R_n.
    const std::vector<double>& recall = m.precision_recall.recall;
    const std::vector<double>& precision = m.precision_recall.precision;
    std::vector<double> x = {recall.back()}, y = {precision.back()};
    for (size_t i = recall.size() - 1; i-- > 0;) {
      x.insert(x.end(), {x.back(), recall[i]});
      y.insert(y.end(), {precision[i], precision[i]});
    }
    series.push_back(
        {m.name + " (AP " + format_number(m.average_precision, 3) + ")", x, y, palette_color(c), false, false});
  }
  LineChartOptions options;
  options.title = "Precision-recall curves (one-vs-rest)";
  options.x_label = "recall";
  options.y_label = "precision";
  options.width = 440;
  options.height = 400;
  options.x_min = options.y_min = 0.0;
  options.x_max = options.y_max = 1.0;
  options.legend = LineChartOptions::Legend::bottom_left;
  return line_chart_svg(series, options);
}

void write_confusion_matrix_svg(const std::string& path, const metrics::ClassificationMetrics& metrics,
                                bool row_normalised) {
  write_file_atomically(path, standalone_svg(confusion_matrix_svg(metrics, row_normalised)), "svg");
}

void write_roc_svg(const std::string& path, const metrics::ClassificationMetrics& metrics) {
  write_file_atomically(path, standalone_svg(roc_curves_svg(metrics)), "svg");
}

void write_pr_svg(const std::string& path, const metrics::ClassificationMetrics& metrics) {
  write_file_atomically(path, standalone_svg(precision_recall_curves_svg(metrics)), "svg");
}

}  // namespace pneuma::report
