// engine/metrics beyond the sklearn fixture: hand-worked values, input handling (binary layouts, dtypes, bad input),
// the bootstrap (determinism, stratification, agreement with the Wilson interval), metrics.json and the text table.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/metrics/classification_metrics.h"
#include "engine/metrics/metrics_json.h"
#include "engine/rng.h"
#include "kernels/error.h"

namespace pneuma::metrics {
namespace {

MetricsOptions no_bootstrap() {
  MetricsOptions options;
  options.bootstrap.resamples = 0;
  return options;
}

// n samples of k classes; the true class gets `signal` extra logit, so accuracy is well above chance.
struct Synthetic {
  std::vector<double> probabilities;
  std::vector<int64_t> labels;
};
Synthetic synthetic(int64_t n, int64_t k, double signal, uint64_t seed, std::vector<double> class_mix = {}) {
  Generator generator(seed);
  Synthetic s;
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = generator.integer(0, k);
    if (!class_mix.empty()) {
      double u = generator.uniform(), cumulative = 0.0;
      label = k - 1;
      for (int64_t c = 0; c < k; ++c)
        if (u < (cumulative += class_mix[static_cast<size_t>(c)])) {
          label = c;
          break;
        }
    }
    s.labels.push_back(label);
    std::vector<double> logits(static_cast<size_t>(k));
    double total = 0.0;
    for (int64_t c = 0; c < k; ++c) {
      logits[static_cast<size_t>(c)] = std::exp(generator.normal() + (c == label ? signal : 0.0));
      total += logits[static_cast<size_t>(c)];
    }
    for (double v : logits) s.probabilities.push_back(v / total);
  }
  return s;
}

TEST(ClassificationMetrics, HandWorkedBinaryExampleWithTies) {
  // Positive-class scores 0.9 (pos), 0.6 (pos), 0.6 (neg), 0.3 (neg), 0.2 (pos).
  // Pairs (pos, neg): (0.9,0.6)=1 (0.9,0.3)=1 (0.6,0.6)=1/2 (0.6,0.3)=1 (0.2,0.6)=0 (0.2,0.3)=0 → AUC = 3.5/6.
  // AP: thresholds 0.9 (P=1, R=1/3), 0.6 (P=2/3, R=2/3), 0.3 (-), 0.2 (P=3/5, R=1) → (1 + 2/3 + 3/5)/3.
  const Tensor p = Tensor::from_vector<double>({0.9, 0.6, 0.6, 0.3, 0.2}, {5});
  const Tensor y = Tensor::from_vector<int32_t>({1, 1, 0, 0, 1}, {5});
  const ClassificationMetrics m = compute_classification_metrics(p, y, no_bootstrap());
  EXPECT_DOUBLE_EQ(m.classes[1].roc_auc, 3.5 / 6.0);
  EXPECT_DOUBLE_EQ(m.classes[0].roc_auc, 3.5 / 6.0);  // 1 − p ranks the negatives identically
  EXPECT_NEAR(m.classes[1].average_precision, (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0, 1e-15);
  // Predicted (p > 0.5): 1 1 1 0 0 → TP 2, FP 1, FN 1, TN 1.
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 1}, {1, 2}}));
  EXPECT_DOUBLE_EQ(m.classes[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.classes[1].recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.classes[1].specificity, 0.5);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_EQ(m.class_names, (std::vector<std::string>{"class_0", "class_1"}));
}

TEST(ClassificationMetrics, BinaryLayoutsAndDtypesAgree) {
  const std::vector<double> positive = {0.1, 0.8, 0.5, 0.35, 0.7, 0.2};
  const std::vector<int64_t> labels = {0, 1, 1, 0, 0, 1};
  std::vector<double> two_columns;
  for (double p : positive) two_columns.insert(two_columns.end(), {1.0 - p, p});
  const Tensor y = Tensor::from_vector(labels, {6});
  const ClassificationMetrics flat =
      compute_classification_metrics(Tensor::from_vector(positive, {6}), y, no_bootstrap());
  const ClassificationMetrics column =
      compute_classification_metrics(Tensor::from_vector(positive, {6, 1}).to(DType::f32), y, no_bootstrap());
  const ClassificationMetrics full = compute_classification_metrics(two_columns, 2, labels, no_bootstrap());
  for (const ClassificationMetrics* m : {&column, &full}) {
    EXPECT_EQ(m->confusion, flat.confusion);
    EXPECT_DOUBLE_EQ(m->macro_roc_auc, flat.macro_roc_auc);
    EXPECT_DOUBLE_EQ(m->macro.f1, flat.macro.f1);
  }
  // Class-1 samples score 0.8, 0.5, 0.2: p = 0.5 predicts class 0 (first maximum), so two are missed.
  EXPECT_EQ(flat.confusion[1][0], 2);
}

TEST(ClassificationMetrics, RejectsBadInputWithOneClearMessage) {
  const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
  const Tensor p = Tensor::from_vector<float>({0.2f, 0.3f, 0.5f, 0.6f, 0.2f, 0.2f, 0.1f, 0.1f, 0.8f}, {3, 3});
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] {
              compute_classification_metrics(p, Tensor::from_vector<int64_t>({0, 1, 3}, {3}));
            }).find("label of sample 2 is 3, outside [0, 3)"),
            std::string::npos);
  EXPECT_NE(message([&] {
              compute_classification_metrics(p, Tensor::from_vector<int64_t>({0, 1}, {2}));
            }).find("3 probability rows but 2 labels"),
            std::string::npos);
  EXPECT_NE(message([&] { compute_classification_metrics(p, y.to(DType::f32)); }).find("labels must be i32 or i64"),
            std::string::npos);
  Tensor with_nan = p.clone();
  with_nan.data<float>()[4] = std::nanf("");
  EXPECT_NE(message([&] { compute_classification_metrics(with_nan, y); }).find("sample 1, class 1 is not finite"),
            std::string::npos);
  EXPECT_NE(message([&] {
              compute_classification_metrics(Tensor::from_vector<double>({0.2, 1.5}, {2}),
                                             Tensor::from_vector<int64_t>({0, 1}, {2}));
            }).find("probability 1 is 1.5, outside [0, 1]"),
            std::string::npos);
  MetricsOptions names;
  names.class_names = {"a", "b"};
  EXPECT_NE(message([&] { compute_classification_metrics(p, y, names); }).find("2 class names for 3 classes"),
            std::string::npos);
  EXPECT_NE(message([&] {
              compute_classification_metrics(Tensor::zeros({3, 3, 1}), y);
            }).find("must be [N, K]"),
            std::string::npos);
}

TEST(ClassificationMetrics, UndefinedAucIsNaNAndSkippedByTheMacroAverage) {
  // Class 2 has no true sample.
  const std::vector<double> p = {0.7, 0.2, 0.1, 0.3, 0.6, 0.1, 0.5, 0.4, 0.1, 0.2, 0.3, 0.5};
  const ClassificationMetrics m = compute_classification_metrics(p, 3, {0, 1, 0, 1}, no_bootstrap());
  EXPECT_TRUE(std::isnan(m.classes[2].roc_auc));
  EXPECT_TRUE(std::isnan(m.classes[2].average_precision));
  EXPECT_TRUE(m.classes[2].roc.thresholds.empty());
  EXPECT_DOUBLE_EQ(m.macro_roc_auc, (m.classes[0].roc_auc + m.classes[1].roc_auc) / 2.0);
  EXPECT_EQ(m.classes[2].predicted, 1);
  EXPECT_EQ(m.classes[2].precision, 0.0);
}

TEST(MetricsBootstrap, IsDeterministicPerSeedAndBracketsTheEstimate) {
  const Synthetic s = synthetic(300, 3, 1.2, 7);
  MetricsOptions options;
  options.bootstrap.resamples = 400;
  options.bootstrap.seed = 11;
  const ClassificationMetrics a = compute_classification_metrics(s.probabilities, 3, s.labels, options);
  const ClassificationMetrics b = compute_classification_metrics(s.probabilities, 3, s.labels, options);
  options.bootstrap.seed = 12;
  const ClassificationMetrics c = compute_classification_metrics(s.probabilities, 3, s.labels, options);
  ASSERT_TRUE(a.has_bootstrap);
  EXPECT_EQ(a.bootstrap.accuracy.interval.low, b.bootstrap.accuracy.interval.low);
  EXPECT_EQ(a.bootstrap.macro_roc_auc.interval.high, b.bootstrap.macro_roc_auc.interval.high);
  EXPECT_NE(a.bootstrap.macro_f1.interval.low, c.bootstrap.macro_f1.interval.low);

  const BootstrapResults& r = a.bootstrap;
  EXPECT_DOUBLE_EQ(r.accuracy.value, a.accuracy);
  EXPECT_DOUBLE_EQ(r.macro_f1.value, a.macro.f1);
  EXPECT_DOUBLE_EQ(r.macro_roc_auc.value, a.macro_roc_auc);
  for (const BootstrapEstimate* e : {&r.accuracy, &r.macro_f1, &r.macro_roc_auc, &r.recall[0], &r.recall[2]}) {
    EXPECT_EQ(e->valid_resamples, 400);
    EXPECT_LT(e->interval.low, e->value);
    EXPECT_GT(e->interval.high, e->value);
    EXPECT_LT(e->interval.high - e->interval.low, 0.25);
  }
  for (size_t k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(r.recall[k].value, a.classes[k].recall);
}

TEST(MetricsBootstrap, AccuracyIntervalAgreesWithWilsonOnALargeSet) {
  const Synthetic s = synthetic(2000, 3, 1.0, 3);
  MetricsOptions options;
  options.bootstrap.resamples = 1000;
  options.bootstrap.stratified = false;
  const ClassificationMetrics m = compute_classification_metrics(s.probabilities, 3, s.labels, options);
  EXPECT_NEAR(m.bootstrap.accuracy.interval.low, m.accuracy_wilson.low, 0.006);
  EXPECT_NEAR(m.bootstrap.accuracy.interval.high, m.accuracy_wilson.high, 0.006);
  EXPECT_GT(m.accuracy_wilson.high - m.accuracy_wilson.low, 0.03);
}

TEST(MetricsBootstrap, StratifiedKeepsClassCountsUnstratifiedSkipsResamplesWithoutARareClass) {
  // Class 2 has 2 samples, both always predicted right: stratified resamples keep 2 of them (recall exactly 1);
  // unstratified resamples often miss the class entirely, and those are skipped for its recall and the macros.
  Synthetic s = synthetic(60, 2, 1.0, 5);
  std::vector<double> probabilities;
  std::vector<int64_t> labels;
  for (size_t i = 0; i < s.labels.size(); ++i) {
    probabilities.insert(probabilities.end(), {s.probabilities[2 * i] * 0.9, s.probabilities[2 * i + 1] * 0.9, 0.1});
    labels.push_back(s.labels[i]);
  }
  for (int i = 0; i < 2; ++i) {
    probabilities.insert(probabilities.end(), {0.05, 0.05, 0.9});
    labels.push_back(2);
  }
  MetricsOptions options;
  options.bootstrap.resamples = 300;
  const ClassificationMetrics stratified = compute_classification_metrics(probabilities, 3, labels, options);
  EXPECT_EQ(stratified.bootstrap.recall[2].interval.low, 1.0);
  EXPECT_EQ(stratified.bootstrap.recall[2].interval.high, 1.0);
  EXPECT_EQ(stratified.bootstrap.macro_f1.valid_resamples, 300);
  options.bootstrap.stratified = false;
  const ClassificationMetrics plain = compute_classification_metrics(probabilities, 3, labels, options);
  EXPECT_LT(plain.bootstrap.recall[2].valid_resamples, 300);
  EXPECT_GT(plain.bootstrap.recall[2].valid_resamples, 200);  // P(class drawn) = 1 − (62/64)^64 ≈ 0.87
  EXPECT_EQ(plain.bootstrap.macro_roc_auc.valid_resamples, plain.bootstrap.recall[2].valid_resamples);
  EXPECT_EQ(plain.bootstrap.accuracy.valid_resamples, 300);
}

TEST(MetricsJson, HasTheDocumentedKeysAndWritesNullForUndefined) {
  const std::vector<double> p = {0.7, 0.2, 0.1, 0.3, 0.6, 0.1, 0.5, 0.4, 0.1, 0.2, 0.3, 0.5};
  MetricsOptions options;
  options.class_names = {"normal", "bacterial", "viral <rare>"};
  options.bootstrap.resamples = 50;
  const ClassificationMetrics m = compute_classification_metrics(p, 3, {0, 1, 0, 1}, options);
  const nlohmann::json j = metrics_to_json(m, true);
  EXPECT_EQ(j["schema"], "pneuma.metrics/1");
  EXPECT_EQ(j["num_samples"], 4);
  EXPECT_EQ(j["class_names"][2], "viral <rare>");
  EXPECT_EQ(j["per_class"][0]["name"], "normal");
  EXPECT_TRUE(j["per_class"][2]["roc_auc"].is_null());
  EXPECT_DOUBLE_EQ(j["macro"]["roc_auc"].get<double>(), m.macro_roc_auc);
  EXPECT_DOUBLE_EQ(j["accuracy_wilson"]["low"].get<double>(), m.accuracy_wilson.low);
  EXPECT_EQ(j["bootstrap"]["resamples"], 50);
  EXPECT_EQ(j["bootstrap"]["recall"][1]["name"], "bacterial");
  EXPECT_TRUE(j["curves"]["roc"][2].is_null());
  EXPECT_TRUE(j["curves"]["roc"][0]["thresholds"][0].is_null());  // +infinity
  EXPECT_EQ(j["confusion_matrix"][1], (std::vector<int64_t>{0, 1, 1}));
  EXPECT_FALSE(metrics_to_json(m).contains("curves"));

  const std::filesystem::path directory = std::filesystem::temp_directory_path() / "pneuma_metrics_json_test";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const std::string path = (directory / "metrics.json").string();
  write_metrics_json(path, m);
  std::ifstream file(path);
  EXPECT_EQ(nlohmann::json::parse(file), metrics_to_json(m));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory), std::filesystem::directory_iterator()), 1);
  EXPECT_THROW(write_metrics_json((directory / "missing" / "metrics.json").string(), m), Error);
  std::filesystem::remove_all(directory);
}

TEST(MetricsTable, ListsClassesAveragesIntervalsAndConfusion) {
  const Synthetic s = synthetic(120, 3, 1.5, 9);
  MetricsOptions options;
  options.class_names = {"normal", "bacterial", "viral"};
  options.bootstrap.resamples = 100;
  const std::string table = format_metrics_table(compute_classification_metrics(s.probabilities, 3, s.labels, options));
  for (const char* needle : {"normal", "bacterial", "viral", "macro avg", "weighted avg", "accuracy", "Wilson 95%",
                             "bootstrap 95%", "recall 95% CI", "confusion matrix", "stratified", "roc_auc"})
    EXPECT_NE(table.find(needle), std::string::npos) << needle << "\n" << table;
}

}  // namespace
}  // namespace pneuma::metrics
