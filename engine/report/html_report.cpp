// The self-contained HTML run report: inline CSS, inline SVG charts, PNGs as data: URIs, no scripts.
#include "engine/report/html_report.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/report/atomic_file.h"
#include "engine/report/base64.h"
#include "engine/report/html_escape.h"
#include "engine/report/metric_charts.h"
#include "engine/report/svg_bar_chart.h"
#include "engine/report/training_charts.h"
#include "kernels/error.h"

namespace pneuma::report {
namespace {

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #f6f7f9;
       margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 40px; }
header { border-bottom: 2px solid #0072B2; margin-bottom: 8px; }
h1 { font-size: 24px; margin: 8px 0 2px; }
.subtitle { color: #555; margin: 0 0 10px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 170px; }
.card .label { font-size: 12px; color: #666; text-transform: uppercase; letter-spacing: 0.04em; }
.card .value { font-size: 24px; font-weight: 600; margin: 2px 0; }
.card .interval { font-size: 12px; color: #444; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.charts svg { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #ddd; padding: 4px 9px; text-align: right; }
th { background: #eef2f6; }
td:first-child, th:first-child { text-align: left; }
tr.average td { background: #f7f9fb; font-weight: 600; }
.note { color: #555; font-size: 13px; }
pre { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px; font-size: 12px; overflow: auto;
      max-height: 520px; }
figure { display: inline-block; margin: 0 12px 12px 0; background: #fff; border: 1px solid #ddd; border-radius: 6px;
         padding: 8px; vertical-align: top; }
figure img { display: block; max-width: 360px; height: auto; image-rendering: auto; }
figcaption { font-size: 12px; color: #444; margin-top: 6px; max-width: 360px; }
footer { margin-top: 36px; color: #777; font-size: 12px; }
)";

std::string number(double v, int decimals = 4) { return escape_html(format_number(v, decimals)); }

std::string interval(const metrics::Interval& i, int decimals = 3) {
  return "[" + number(i.low, decimals) + ", " + number(i.high, decimals) + "]";
}

std::string card(const std::string& label, const std::string& value, const std::string& detail) {
  return "<div class=\"card\"><div class=\"label\">" + escape_html(label) + "</div><div class=\"value\">" + value +
         "</div><div class=\"interval\">" + detail + "</div></div>\n";
}

std::string percent_label(double confidence) { return format_number(100.0 * confidence, 0) + "%"; }

std::string summary_section(const RunReport& report) {
  const metrics::ClassificationMetrics& m = *report.metrics;
  std::string html = "<section><h2>Summary (" + escape_html(report.metrics_split) + " split, " +
                     std::to_string(m.num_samples) + " images)</h2><div class=\"cards\">\n";
  std::string accuracy_detail = "Wilson " + percent_label(m.wilson_confidence) + " " + interval(m.accuracy_wilson);
  std::string f1_detail, auc_detail;
  if (m.has_bootstrap) {
    const std::string level = "bootstrap " + percent_label(m.bootstrap.options.confidence) + " ";
    accuracy_detail += "<br>" + level + interval(m.bootstrap.accuracy.interval);
    f1_detail = level + interval(m.bootstrap.macro_f1.interval);
    auc_detail = level + interval(m.bootstrap.macro_roc_auc.interval);
  }
  html +=
      card("accuracy", number(m.accuracy),
           accuracy_detail + "<br>" + std::to_string(m.correct) + " of " + std::to_string(m.num_samples) + " correct");
  html += card("macro F1", number(m.macro.f1), f1_detail);
  html += card("macro ROC AUC", number(m.macro_roc_auc), auc_detail);
  html += card("balanced accuracy", number(m.macro.recall), "mean per-class recall");
  html += card("macro average precision", number(m.macro_average_precision), "PR AUC, one-vs-rest");
  html += "</div></section>\n";
  return html;
}

std::string training_section(const RunReport& report) {
  const std::vector<EpochRecord>& history = report.history;
  std::string html = "<section><h2>Training curves</h2><div class=\"charts\">\n";
  if (history_has_loss(history)) html += loss_curves_svg(history) + "\n";
  if (history_has_metrics(history)) html += metric_curves_svg(history) + "\n";
  if (history_has_learning_rate(history)) html += learning_rate_svg(history) + "\n";
  html +=
      "</div>\n<table><tr><th>epoch</th><th>learning rate</th><th>train loss</th><th>val loss</th>"
      "<th>train accuracy</th><th>val accuracy</th><th>val macro F1</th><th>val macro ROC AUC</th>"
      "<th>seconds</th></tr>\n";
  for (const EpochRecord& e : history) {
    char learning_rate[32];
    std::snprintf(learning_rate, sizeof learning_rate, "%.3g", e.learning_rate);
    html += "<tr><td>" + std::to_string(e.epoch) + "</td><td>" +
            (std::isfinite(e.learning_rate) ? std::string(learning_rate) : number(e.learning_rate)) + "</td><td>" +
            number(e.train_loss) + "</td><td>" + number(e.val_loss) + "</td><td>" + number(e.train_accuracy) +
            "</td><td>" + number(e.val_accuracy) + "</td><td>" + number(e.val_macro_f1) + "</td><td>" +
            number(e.val_macro_roc_auc) + "</td><td>" + number(e.seconds, 1) + "</td></tr>\n";
  }
  html += "</table></section>\n";
  return html;
}

std::string metrics_section(const RunReport& report) {
  const metrics::ClassificationMetrics& m = *report.metrics;
  const bool boot = m.has_bootstrap;
  std::string html =
      "<section><h2>Metrics per class</h2>\n<table><tr><th>class</th><th>support</th>"
      "<th>predicted</th><th>precision</th><th>recall (sensitivity)</th>";
  if (boot) html += "<th>recall " + percent_label(m.bootstrap.options.confidence) + " CI</th>";
  html += "<th>specificity</th><th>F1</th><th>ROC AUC</th><th>average precision</th></tr>\n";
  for (size_t c = 0; c < m.classes.size(); ++c) {
    const metrics::ClassMetrics& k = m.classes[c];
    html += "<tr><td>" + escape_html(k.name) + "</td><td>" + std::to_string(k.support) + "</td><td>" +
            std::to_string(k.predicted) + "</td><td>" + number(k.precision) + "</td><td>" + number(k.recall) + "</td>";
    if (boot) html += "<td>" + interval(m.bootstrap.recall[c].interval) + "</td>";
    html += "<td>" + number(k.specificity) + "</td><td>" + number(k.f1) + "</td><td>" + number(k.roc_auc) +
            "</td><td>" + number(k.average_precision) + "</td></tr>\n";
  }
  const std::string blank = boot ? "<td></td>" : "";
  html += "<tr class=\"average\"><td>macro average</td><td>" + std::to_string(m.num_samples) + "</td><td></td><td>" +
          number(m.macro.precision) + "</td><td>" + number(m.macro.recall) + "</td>" + blank + "<td>" +
          number(m.macro.specificity) + "</td><td>" + number(m.macro.f1) + "</td><td>" + number(m.macro_roc_auc) +
          "</td><td>" + number(m.macro_average_precision) + "</td></tr>\n";
  html += "<tr class=\"average\"><td>weighted average</td><td>" + std::to_string(m.num_samples) + "</td><td></td><td>" +
          number(m.weighted.precision) + "</td><td>" + number(m.weighted.recall) + "</td>" + blank + "<td>" +
          number(m.weighted.specificity) + "</td><td>" + number(m.weighted.f1) +
          "</td><td></td><td></td></tr>\n</table>\n";
  html +=
      "<p class=\"note\">Predicted class = arg-max probability. One-vs-rest ROC AUC and average precision "
      "(scikit-learn definitions); \u2013 marks a value that is undefined (class absent).";
  if (boot) {
    const metrics::BootstrapOptions& o = m.bootstrap.options;
    html += " Intervals: " + std::to_string(o.resamples) + " bootstrap resamples" +
            (o.stratified ? " stratified by class" : "") + ", seed " + std::to_string(o.seed) +
            ", percentile method. Accuracy " + interval(m.bootstrap.accuracy.interval) + ", macro F1 " +
            interval(m.bootstrap.macro_f1.interval) + ", macro ROC AUC " +
            interval(m.bootstrap.macro_roc_auc.interval) + ".";
  }
  html += "</p>\n<div class=\"charts\">\n";
  std::vector<Bar> bars;
  for (size_t c = 0; c < m.classes.size(); ++c) {
    Bar bar{m.classes[c].name, m.classes[c].recall};
    if (boot) {
      bar.low = m.bootstrap.recall[c].interval.low;
      bar.high = m.bootstrap.recall[c].interval.high;
    }
    bars.push_back(bar);
  }
  BarChartOptions bar_options;
  bar_options.title =
      boot ? "Per-class recall with " + percent_label(m.bootstrap.options.confidence) + " CI" : "Per-class recall";
  bar_options.value_label = "recall (sensitivity)";
  html += bar_chart_svg(bars, bar_options) + "\n</div></section>\n";

  html += "<section><h2>Confusion matrix</h2><div class=\"charts\">\n" + confusion_matrix_svg(m, false) + "\n" +
          confusion_matrix_svg(m, true) + "\n</div></section>\n";
  html += "<section><h2>ROC and precision-recall curves</h2><div class=\"charts\">\n" + roc_curves_svg(m) + "\n" +
          precision_recall_curves_svg(m) + "\n</div></section>\n";
  return html;
}

std::string dataset_section(const DatasetSummary& d) {
  std::string html = "<section><h2>Dataset</h2>\n";
  if (!d.source.empty()) html += "<p class=\"note\">Source: " + escape_html(d.source) + "</p>\n";
  if (!d.splits.empty()) {
    html += "<table><tr><th>split</th>";
    for (const std::string& name : d.class_names) html += "<th>" + escape_html(name) + "</th>";
    html += "<th>total</th></tr>\n";
    for (const SplitSummary& split : d.splits) {
      html += "<tr><td>" + escape_html(split.name) + "</td>";
      int64_t total = 0;
      for (size_t c = 0; c < d.class_names.size(); ++c) {
        const bool known = c < split.class_counts.size();
        if (known) total += split.class_counts[c];
        html += "<td>" + (known ? std::to_string(split.class_counts[c]) : std::string("\u2013")) + "</td>";
      }
      html += "<td>" + std::to_string(total) + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "<p class=\"note\">Skipped entries: " + std::to_string(d.skipped) +
          ". Duplicates removed: " + std::to_string(d.duplicates) + ".</p>\n";
  if (!d.notes.empty()) {
    html += "<ul class=\"note\">";
    for (const std::string& note : d.notes) html += "<li>" + escape_html(note) + "</li>";
    html += "</ul>\n";
  }
  return html + "</section>\n";
}

std::string configuration_section(const std::string& configuration) {
  std::string text = configuration;
  try {
    text = nlohmann::ordered_json::parse(configuration).dump(2);  // keeps the key order
  } catch (const nlohmann::ordered_json::exception&) {
    // Not JSON: shown as given.
  }
  return "<section><h2>Configuration</h2>\n<pre>" + escape_html(text) + "</pre></section>\n";
}

std::string images_section(const std::vector<EmbeddedImage>& images) {
  std::string html = "<section><h2>Images</h2>\n";
  for (const EmbeddedImage& image : images)
    html += "<figure><img alt=\"" + escape_html(image.caption) + "\" src=\"data:image/png;base64," +
            base64_encode(image.png_bytes) + "\"><figcaption>" + escape_html(image.caption) +
            "</figcaption></figure>\n";
  return html + "</section>\n";
}

}  // namespace

std::string render_report_html(const RunReport& report) {
  for (const EmbeddedImage& image : report.images)
    PNEUMA_CHECK(image.png_bytes.size() >= 8 && image.png_bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0,
                 "report: image '%s' is not a PNG file", image.caption.c_str());
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      escape_html(report.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n";
  html += "<header><h1>" + escape_html(report.title) + "</h1>";
  if (!report.subtitle.empty()) html += "<p class=\"subtitle\">" + escape_html(report.subtitle) + "</p>";
  html += "</header>\n";
  if (report.metrics) html += summary_section(report);
  if (!report.history.empty()) html += training_section(report);
  if (report.metrics) html += metrics_section(report);
  if (report.dataset) html += dataset_section(*report.dataset);
  if (!report.configuration_json.empty()) html += configuration_section(report.configuration_json);
  if (!report.images.empty()) html += images_section(report.images);
  html +=
      "<footer>Written by pneuma. This file is self-contained: no scripts, fonts or network resources.</footer>\n"
      "</main>\n</body>\n</html>\n";
  return html;
}

void write_report_html(const std::string& path, const RunReport& report) {
  write_file_atomically(path, render_report_html(report), "report");
}

}  // namespace pneuma::report
