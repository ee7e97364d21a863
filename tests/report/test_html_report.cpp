// engine/report: the self-contained HTML report (well-formed, escaped, nothing external, atomic), the standalone
// SVG charts and the chart helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/explain/heat_map.h"
#include "engine/explain/png.h"
#include "engine/metrics/classification_metrics.h"
#include "engine/report/base64.h"
#include "engine/report/html_escape.h"
#include "engine/report/html_report.h"
#include "engine/report/metric_charts.h"
#include "engine/report/svg_axes.h"
#include "engine/report/svg_line_chart.h"
#include "engine/rng.h"
#include "kernels/error.h"
#include "tests/report/html_checks.h"

namespace pneuma::report {
namespace {

using testing::svg_elements;
using testing::tag_balance_error;

const char* kHostileName = "viral <b>&\"quoted\"'";

metrics::ClassificationMetrics sample_metrics() {
  Generator generator(21);
  std::vector<double> probabilities;
  std::vector<int64_t> labels;
  for (int i = 0; i < 150; ++i) {
    const int64_t label = generator.integer(0, 3);
    labels.push_back(label);
    double row[3], total = 0;
    for (int c = 0; c < 3; ++c) total += row[c] = std::exp(generator.normal() + (c == label ? 1.6 : 0.0));
    for (double v : row) probabilities.push_back(v / total);
  }
  metrics::MetricsOptions options;
  options.class_names = {"normal", "bacterial", kHostileName};
  options.bootstrap.resamples = 200;
  return metrics::compute_classification_metrics(probabilities, 3, labels, options);
}

RunReport sample_report() {
  RunReport report;
  report.title = "mobilenet_v2 <kermany> run";
  report.subtitle = "checkpoint runs/a&b/best.safetensors";
  report.configuration_json = R"({"model":"mobilenet_v2","lr":0.001,"classes":["normal","bacterial","viral"]})";
  for (int e = 1; e <= 12; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.learning_rate = 1e-3 * 0.5 * (1 + std::cos(M_PI * (e - 1) / 12.0));
    r.train_loss = 1.1 * std::exp(-0.2 * e) + 0.1;
    r.val_loss = 1.0 * std::exp(-0.15 * e) + 0.25;
    r.train_accuracy = 1.0 - 0.6 * std::exp(-0.25 * e);
    r.val_accuracy = 1.0 - 0.6 * std::exp(-0.2 * e) - 0.05;
    r.val_macro_f1 = r.val_accuracy - 0.03;
    r.val_macro_roc_auc = std::min(1.0, r.val_accuracy + 0.1);
    r.seconds = 30.0 + e;
    report.history.push_back(r);
  }
  report.history[4].val_loss = kMissing;  // a gap in the curve
  report.metrics = sample_metrics();
  DatasetSummary dataset;
  dataset.source = "../shared/data/kermany_cxr224/labels.csv";
  dataset.class_names = report.metrics->class_names;
  dataset.splits = {{"train", {1100, 2100, 1100}}, {"val", {241, 430, 245}}, {"test", {234, 242, 148}}};
  dataset.skipped = 2;
  dataset.duplicates = 30;
  dataset.notes = {"validation carved from train grouped by patient_id <seeded>"};
  report.dataset = dataset;
  Image gray{24, 32, 1, std::vector<float>(24 * 32)};
  std::vector<float> heat(24 * 32);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) {
      gray.pixels[y * 32 + x] = static_cast<float>(4 * (x + y));
      heat[y * 32 + x] = static_cast<float>(std::exp(-((x - 20) * (x - 20) + (y - 8) * (y - 8)) / 40.0));
    }
  report.images.push_back({"Grad-CAM <bacterial>",
                           explain::encode_png(explain::overlay_heat_map(gray, Tensor::from_vector(heat, {24, 32})))});
  return report;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

TEST(HtmlReport, IsWellFormedSelfContainedAndEscaped) {
  const RunReport report = sample_report();
  const std::string html = render_report_html(report);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(tag_balance_error(html), "");
  const std::vector<std::string> svgs = svg_elements(html);
  EXPECT_EQ(svgs.size(), 8u);  // loss, metrics, lr, recall bars, 2 confusion matrices, ROC, PR
  for (const std::string& svg : svgs) EXPECT_EQ(tag_balance_error(svg), "") << svg.substr(0, 200);

  const std::string folded = lower(html);
  EXPECT_EQ(folded.find("http"), std::string::npos);  // nothing from the network (inline SVG needs no xmlns)
  EXPECT_EQ(folded.find("<script"), std::string::npos);
  EXPECT_EQ(folded.find("url("), std::string::npos);
  EXPECT_EQ(folded.find("@import"), std::string::npos);
  size_t src = 0;
  while ((src = html.find("src=\"", src)) != std::string::npos) EXPECT_EQ(html.compare(src += 5, 5, "data:"), 0);

  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<kermany>"), std::string::npos);
  EXPECT_NE(html.find("viral &lt;b&gt;&amp;&quot;quoted&quot;&#39;"), std::string::npos);
  EXPECT_NE(html.find("mobilenet_v2 &lt;kermany&gt; run"), std::string::npos);
  EXPECT_NE(html.find("Grad-CAM &lt;bacterial&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;lr&quot;: 0.001"), std::string::npos);  // configuration pretty-printed
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  for (const char* section : {"Summary", "Training curves", "Metrics per class", "Confusion matrix", "ROC and",
                              "Dataset", "Configuration", "Images", "Wilson 95%", "bootstrap 95%", "patient_id"})
    EXPECT_NE(html.find(section), std::string::npos) << section;
  EXPECT_NE(html.find("<td>4300</td>"), std::string::npos);  // train split total
}

TEST(HtmlReport, RendersWhateverPartsArePresent) {
  RunReport only_config;
  only_config.configuration_json = "not json <at all>";
  const std::string html = render_report_html(only_config);
  EXPECT_EQ(tag_balance_error(html), "");
  EXPECT_NE(html.find("not json &lt;at all&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);

  RunReport history_only;
  EpochRecord e;
  e.epoch = 1;
  e.train_loss = 0.7;
  history_only.history = {e};
  const std::string one_epoch = render_report_html(history_only);
  EXPECT_EQ(tag_balance_error(one_epoch), "");
  EXPECT_EQ(svg_elements(one_epoch).size(), 1u);  // only the loss chart has data

  RunReport bad_image;
  bad_image.images.push_back({"not a png", "GIF89a...."});
  EXPECT_THROW(render_report_html(bad_image), Error);
}

TEST(HtmlReport, WritesAtomicallyAndStandaloneSvgFiles) {
  const std::filesystem::path directory = std::filesystem::temp_directory_path() / "pneuma_report_test";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const RunReport report = sample_report();
  write_report_html((directory / "report.html").string(), report);
  write_confusion_matrix_svg((directory / "confusion_matrix.svg").string(), *report.metrics);
  write_roc_svg((directory / "roc.svg").string(), *report.metrics);
  write_pr_svg((directory / "pr.svg").string(), *report.metrics);
  auto read = [&](const char* name) {
    std::ifstream file(directory / name);
    std::stringstream buffer;
    buffer << file.rdbuf();
    return buffer.str();
  };
  EXPECT_EQ(read("report.html"), render_report_html(report));
  for (const char* name : {"confusion_matrix.svg", "roc.svg", "pr.svg"}) {
    const std::string svg = read(name);
    EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" ", 0),
              0u)
        << name;
    EXPECT_EQ(tag_balance_error(svg), "") << name;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory), std::filesystem::directory_iterator()), 4);
  EXPECT_THROW(write_report_html((directory / "missing" / "report.html").string(), report), Error);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory), std::filesystem::directory_iterator()), 4);
  std::filesystem::remove_all(directory);
}

TEST(ReportCharts, RocChartHasOneCurvePerDefinedClassAndTheDiagonal) {
  const metrics::ClassificationMetrics m = sample_metrics();
  const std::string roc = roc_curves_svg(m);
  size_t paths = 0;
  for (size_t i = 0; (i = roc.find("<path ", i)) != std::string::npos; ++i) ++paths;
  EXPECT_EQ(paths, 3u);
  EXPECT_NE(roc.find("stroke-dasharray=\"4 3\""), std::string::npos);
  EXPECT_NE(roc.find("(AUC " + format_number(m.classes[0].roc_auc, 3) + ")"), std::string::npos);
  const std::string counts = confusion_matrix_svg(m, false);
  EXPECT_NE(counts.find(">" + std::to_string(m.confusion[1][1]) + "</text>"), std::string::npos);
}

TEST(ReportCharts, NiceTicksAndBase64) {
  const AxisTicks ticks = nice_ticks(0.13, 0.87, 5, false, false);
  EXPECT_DOUBLE_EQ(ticks.step, 0.2);
  EXPECT_DOUBLE_EQ(ticks.min, 0.0);
  EXPECT_DOUBLE_EQ(ticks.max, 1.0);
  EXPECT_EQ(ticks.values.size(), 6u);
  EXPECT_EQ(tick_label(0.4, ticks), "0.4");
  const AxisTicks epochs = nice_ticks(1, 3, 6, true, false);
  EXPECT_DOUBLE_EQ(epochs.step, 1.0);
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
  EXPECT_THROW(standalone_svg("<g></g>"), Error);
}

}  // namespace
}  // namespace pneuma::report
