// metrics.json and the terminal table for ClassificationMetrics (key names documented in metrics_json.h).
#include "engine/metrics/metrics_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/report/atomic_file.h"

namespace pneuma::metrics {
namespace {

using Json = nlohmann::json;

Json number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

Json numbers(const std::vector<double>& values) {
  Json array = Json::array();
  for (double v : values) array.push_back(number(v));
  return array;
}

Json estimate_json(const BootstrapEstimate& e) {
  return {{"value", number(e.value)},
          {"low", number(e.interval.low)},
          {"high", number(e.interval.high)},
          {"valid_resamples", e.valid_resamples}};
}

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string interval_text(const Interval& interval, int decimals) {
  std::string text = "[";  // built step by step: GCC 12 warns falsely (-Wrestrict) on "literal" + temporary
  text += fixed(interval.low, decimals);
  text += ", ";
  text += fixed(interval.high, decimals);
  text += "]";
  return text;
}

std::string pad_left(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}
std::string pad_right(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace

Json metrics_to_json(const ClassificationMetrics& m, bool include_curves) {
  Json j;
  j["schema"] = "pneuma.metrics/1";
  j["num_samples"] = m.num_samples;
  j["num_classes"] = m.num_classes;
  j["class_names"] = m.class_names;
  j["accuracy"] = number(m.accuracy);
  j["correct"] = m.correct;
  j["accuracy_wilson"] = {{"confidence", m.wilson_confidence},
                          {"low", number(m.accuracy_wilson.low)},
                          {"high", number(m.accuracy_wilson.high)}};
  j["macro"] = {{"precision", number(m.macro.precision)},     {"recall", number(m.macro.recall)},
                {"specificity", number(m.macro.specificity)}, {"f1", number(m.macro.f1)},
                {"roc_auc", number(m.macro_roc_auc)},         {"average_precision", number(m.macro_average_precision)}};
  j["weighted"] = {{"precision", number(m.weighted.precision)},
                   {"recall", number(m.weighted.recall)},
                   {"specificity", number(m.weighted.specificity)},
                   {"f1", number(m.weighted.f1)}};
  Json per_class = Json::array();
  for (const ClassMetrics& c : m.classes)
    per_class.push_back({{"name", c.name},
                         {"support", c.support},
                         {"predicted", c.predicted},
                         {"precision", number(c.precision)},
                         {"recall", number(c.recall)},
                         {"specificity", number(c.specificity)},
                         {"f1", number(c.f1)},
                         {"roc_auc", number(c.roc_auc)},
                         {"average_precision", number(c.average_precision)}});
  j["per_class"] = per_class;
  j["confusion_matrix"] = m.confusion;
  if (m.has_bootstrap) {
    const BootstrapResults& b = m.bootstrap;
    Json recall = Json::array();
    for (size_t c = 0; c < b.recall.size(); ++c) {
      Json entry = estimate_json(b.recall[c]);
      entry["name"] = m.class_names[c];
      recall.push_back(entry);
    }
    j["bootstrap"] = {{"resamples", b.options.resamples},
                      {"seed", b.options.seed},
                      {"stratified", b.options.stratified},
                      {"confidence", b.options.confidence},
                      {"accuracy", estimate_json(b.accuracy)},
                      {"macro_f1", estimate_json(b.macro_f1)},
                      {"macro_roc_auc", estimate_json(b.macro_roc_auc)},
                      {"recall", recall}};
  } else {
    j["bootstrap"] = nullptr;
  }
  if (include_curves) {
    Json roc = Json::array(), pr = Json::array();
    for (const ClassMetrics& c : m.classes) {
      if (c.roc.thresholds.empty()) {
        roc.push_back(nullptr);
      } else {
        roc.push_back({{"name", c.name},
                       {"fpr", numbers(c.roc.false_positive_rate)},
                       {"tpr", numbers(c.roc.true_positive_rate)},
                       {"thresholds", numbers(c.roc.thresholds)}});
      }
      if (c.precision_recall.precision.empty()) {
        pr.push_back(nullptr);
      } else {
        pr.push_back({{"name", c.name},
                      {"precision", numbers(c.precision_recall.precision)},
                      {"recall", numbers(c.precision_recall.recall)},
                      {"thresholds", numbers(c.precision_recall.thresholds)}});
      }
    }
    j["curves"] = {{"roc", roc}, {"pr", pr}};
  }
  return j;
}

void write_metrics_json(const std::string& path, const ClassificationMetrics& metrics, bool include_curves) {
  write_file_atomically(path, metrics_to_json(metrics, include_curves).dump(2) + "\n", "metrics");
}

std::string format_metrics_table(const ClassificationMetrics& m) {
  size_t name_width = std::string("weighted avg").size();
  for (const std::string& name : m.class_names) name_width = std::max(name_width, name.size());
  name_width += 2;
  const bool boot = m.has_bootstrap;
  const std::string level = fixed(100.0 * m.wilson_confidence, 0) + "%";
  const std::string boot_level = boot ? fixed(100.0 * m.bootstrap.options.confidence, 0) + "%" : "";
  std::string out = pad_right("class", name_width) + pad_left("support", 9) + pad_left("precision", 11) +
                    pad_left("recall", 9) + (boot ? pad_left("recall " + boot_level + " CI", 18) : "") +
                    pad_left("specificity", 13) + pad_left("f1", 9) + pad_left("roc_auc", 9) + pad_left("ap", 9) + "\n";
  auto row = [&](const std::string& name, int64_t support, double precision, double recall, const std::string& ci,
                 double specificity, double f1, double auc, double ap) {
    out += pad_right(name, name_width) + pad_left(std::to_string(support), 9) + pad_left(fixed(precision, 4), 11) +
           pad_left(fixed(recall, 4), 9) + (boot ? pad_left(ci, 18) : "") + pad_left(fixed(specificity, 4), 13) +
           pad_left(fixed(f1, 4), 9) + pad_left(fixed(auc, 4), 9) + pad_left(fixed(ap, 4), 9) + "\n";
  };
  for (size_t c = 0; c < m.classes.size(); ++c) {
    const ClassMetrics& k = m.classes[c];
    row(k.name, k.support, k.precision, k.recall, boot ? interval_text(m.bootstrap.recall[c].interval, 3) : "",
        k.specificity, k.f1, k.roc_auc, k.average_precision);
  }
  row("macro avg", m.num_samples, m.macro.precision, m.macro.recall, "", m.macro.specificity, m.macro.f1,
      m.macro_roc_auc, m.macro_average_precision);
  const double nan = std::nan("");
  row("weighted avg", m.num_samples, m.weighted.precision, m.weighted.recall, "", m.weighted.specificity, m.weighted.f1,
      nan, nan);

  out += "\naccuracy " + fixed(m.accuracy, 4) + " (" + std::to_string(m.correct) + "/" + std::to_string(m.num_samples) +
         ")  Wilson " + level + " " + interval_text(m.accuracy_wilson, 4);
  if (boot) {
    const BootstrapResults& b = m.bootstrap;
    const std::string label = "bootstrap " + boot_level + " ";
    out += "  " + label + interval_text(b.accuracy.interval, 4) + "\n";
    out += "macro F1 " + fixed(b.macro_f1.value, 4) + "  " + label + interval_text(b.macro_f1.interval, 4) + "\n";
    out += "macro ROC AUC " + fixed(b.macro_roc_auc.value, 4) + "  " + label +
           interval_text(b.macro_roc_auc.interval, 4) + "\n";
    out += "(bootstrap: " + std::to_string(b.options.resamples) + " resamples, " +
           (b.options.stratified ? "stratified by class" : "not stratified") + ", seed " +
           std::to_string(b.options.seed) + ", percentile intervals)";
  }
  out += "\n\nconfusion matrix (rows = true, columns = predicted)\n";
  size_t cell = 8;
  for (const std::string& name : m.class_names) cell = std::max(cell, name.size() + 2);
  out += pad_right("", name_width);
  for (const std::string& name : m.class_names) out += pad_left(name, cell);
  out += "\n";
  for (size_t r = 0; r < m.confusion.size(); ++r) {
    out += pad_right(m.class_names[r], name_width);
    for (int64_t count : m.confusion[r]) out += pad_left(std::to_string(count), cell);
    out += "\n";
  }
  return out;
}

}  // namespace pneuma::metrics
