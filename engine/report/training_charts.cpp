// Per-epoch training curves as SVG line charts.
#include "engine/report/training_charts.h"

#include <cmath>

#include "engine/report/svg_line_chart.h"

namespace pneuma::report {
namespace {

using Field = double EpochRecord::*;

bool any_finite(const std::vector<EpochRecord>& history, std::initializer_list<Field> fields) {
  for (const EpochRecord& e : history)
    for (Field f : fields)
      if (std::isfinite(e.*f)) return true;
  return false;
}

LineSeries series_of(const std::vector<EpochRecord>& history, Field field, std::string name, std::string color,
                     bool dashed) {
  LineSeries s{std::move(name), {}, {}, std::move(color), dashed, history.size() <= 60};
  for (const EpochRecord& e : history) {
    s.x.push_back(static_cast<double>(e.epoch));
    s.y.push_back(e.*field);
  }
  return s;
}

LineChartOptions epoch_chart(std::string title, std::string y_label) {
  LineChartOptions options;
  options.title = std::move(title);
  options.x_label = "epoch";
  options.y_label = std::move(y_label);
  options.width = 380;
  options.height = 280;
  options.integer_x = true;
  return options;
}

}  // namespace

bool history_has_loss(const std::vector<EpochRecord>& history) {
  return any_finite(history, {&EpochRecord::train_loss, &EpochRecord::val_loss});
}
bool history_has_metrics(const std::vector<EpochRecord>& history) {
  return any_finite(history, {&EpochRecord::train_accuracy, &EpochRecord::val_accuracy, &EpochRecord::val_macro_f1,
                              &EpochRecord::val_macro_roc_auc});
}
bool history_has_learning_rate(const std::vector<EpochRecord>& history) {
  return any_finite(history, {&EpochRecord::learning_rate});
}

std::string loss_curves_svg(const std::vector<EpochRecord>& history) {
  std::vector<LineSeries> series;
  if (any_finite(history, {&EpochRecord::train_loss}))
    series.push_back(series_of(history, &EpochRecord::train_loss, "train", palette_color(0), false));
  if (any_finite(history, {&EpochRecord::val_loss}))
    series.push_back(series_of(history, &EpochRecord::val_loss, "val", palette_color(1), false));
  return line_chart_svg(series, epoch_chart("Loss", "loss"));
}

std::string metric_curves_svg(const std::vector<EpochRecord>& history) {
  std::vector<LineSeries> series;
  const struct {
    Field field;
    const char* name;
    size_t color;
    bool dashed;
  } lines[] = {{&EpochRecord::train_accuracy, "train accuracy", 0, false},
               {&EpochRecord::val_accuracy, "val accuracy", 1, false},
               {&EpochRecord::val_macro_f1, "val macro F1", 2, true},
               {&EpochRecord::val_macro_roc_auc, "val macro ROC AUC", 3, true}};
  for (const auto& line : lines)
    if (any_finite(history, {line.field}))
      series.push_back(series_of(history, line.field, line.name, palette_color(line.color), line.dashed));
  LineChartOptions options = epoch_chart("Accuracy and validation metrics", "value");
  options.legend = LineChartOptions::Legend::bottom_right;
  return line_chart_svg(series, options);
}

std::string learning_rate_svg(const std::vector<EpochRecord>& history) {
  LineChartOptions options = epoch_chart("Learning rate", "learning rate");
  options.y_min = 0.0;
  return line_chart_svg({series_of(history, &EpochRecord::learning_rate, "learning rate", palette_color(4), false)},
                        options);
}

}  // namespace pneuma::report
