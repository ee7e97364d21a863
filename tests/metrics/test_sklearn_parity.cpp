// engine/metrics against scikit-learn 1.2 on tie-heavy prediction sets (tests/fixtures/metrics/sklearn_reference.json,
// written by tools/make_metrics_reference.py): every per-class and averaged number, the confusion matrix, ROC AUC,
// average precision and the curve points; plus numpy percentiles and Wilson intervals.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/metrics/classification_metrics.h"
#include "engine/metrics/intervals.h"

namespace pneuma::metrics {
namespace {

using nlohmann::json;

const json& fixture() {
  static const json data = [] {
    std::ifstream file(PNEUMA_SOURCE_DIR "/tests/fixtures/metrics/sklearn_reference.json");
    if (!file) throw std::runtime_error("cannot open tests/fixtures/metrics/sklearn_reference.json");
    return json::parse(file);
  }();
  return data;
}

constexpr double kTolerance = 1e-12;

void expect_near_or_undefined(double got, const json& expected, const std::string& what) {
  if (expected.is_null()) {
    EXPECT_TRUE(std::isnan(got)) << what << ": expected undefined, got " << got;
  } else {
    EXPECT_NEAR(got, expected.get<double>(), kTolerance) << what;
  }
}

void expect_vector_near(const std::vector<double>& got, const json& expected, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i].get<double>(), kTolerance) << what << "[" << i << "]";
}

ClassificationMetrics metrics_for_case(const json& c) {
  const std::vector<double> probabilities = c["probabilities"].get<std::vector<double>>();
  const std::vector<int64_t> labels = c["labels"].get<std::vector<int64_t>>();
  const auto n = static_cast<int64_t>(labels.size());
  const int64_t k = c["num_classes"].get<int64_t>();
  const Shape shape = c["kind"] == "binary_sigmoid" ? Shape{n} : Shape{n, k};
  Tensor p = Tensor::from_vector(probabilities, shape);
  if (c["dtype"] == "f32") p = p.to(DType::f32);  // the fixture's values are exactly representable in f32
  MetricsOptions options;
  options.bootstrap.resamples = 0;
  return compute_classification_metrics(p, Tensor::from_vector(labels, {n}), options);
}

class SklearnParity : public ::testing::TestWithParam<size_t> {};

TEST_P(SklearnParity, MatchesEveryNumber) {
  const json& c = fixture()["cases"][GetParam()];
  SCOPED_TRACE(c["name"].get<std::string>());
  const json& e = c["expected"];
  const ClassificationMetrics m = metrics_for_case(c);

  ASSERT_EQ(m.num_classes, c["num_classes"].get<int64_t>());
  EXPECT_NEAR(m.accuracy, e["accuracy"].get<double>(), kTolerance);
  EXPECT_EQ(m.confusion, e["confusion_matrix"].get<std::vector<std::vector<int64_t>>>());
  for (size_t k = 0; k < m.classes.size(); ++k) {
    const ClassMetrics& got = m.classes[k];
    const json& want = e["per_class"][k];
    const std::string where = "class " + std::to_string(k);
    EXPECT_EQ(got.support, want["support"].get<int64_t>()) << where;
    EXPECT_NEAR(got.precision, want["precision"].get<double>(), kTolerance) << where;
    EXPECT_NEAR(got.recall, want["recall"].get<double>(), kTolerance) << where;
    EXPECT_NEAR(got.specificity, want["specificity"].get<double>(), kTolerance) << where;
    EXPECT_NEAR(got.f1, want["f1"].get<double>(), kTolerance) << where;
    expect_near_or_undefined(got.roc_auc, want["roc_auc"], where + " roc_auc");
    expect_near_or_undefined(got.average_precision, want["average_precision"], where + " average_precision");
    if (want["roc"].is_null()) {
      EXPECT_TRUE(got.roc.thresholds.empty()) << where;
      continue;
    }
    expect_vector_near(got.roc.false_positive_rate, want["roc"]["fpr"], where + " fpr");
    expect_vector_near(got.roc.true_positive_rate, want["roc"]["tpr"], where + " tpr");
    ASSERT_FALSE(got.roc.thresholds.empty());
    EXPECT_TRUE(std::isinf(got.roc.thresholds.front()));
    expect_vector_near(std::vector<double>(got.roc.thresholds.begin() + 1, got.roc.thresholds.end()),
                       want["roc"]["thresholds_after_first"], where + " roc thresholds");
    expect_vector_near(got.precision_recall.precision, want["pr"]["precision"], where + " pr precision");
    expect_vector_near(got.precision_recall.recall, want["pr"]["recall"], where + " pr recall");
    expect_vector_near(got.precision_recall.thresholds, want["pr"]["thresholds"], where + " pr thresholds");
  }
  EXPECT_NEAR(m.macro.precision, e["macro"]["precision"].get<double>(), kTolerance);
  EXPECT_NEAR(m.macro.recall, e["macro"]["recall"].get<double>(), kTolerance);
  EXPECT_NEAR(m.macro.specificity, e["macro"]["specificity"].get<double>(), kTolerance);
  EXPECT_NEAR(m.macro.f1, e["macro"]["f1"].get<double>(), kTolerance);
  expect_near_or_undefined(m.macro_roc_auc, e["macro"]["roc_auc"], "macro roc_auc");
  expect_near_or_undefined(m.macro_average_precision, e["macro"]["average_precision"], "macro average_precision");
  EXPECT_NEAR(m.weighted.precision, e["weighted"]["precision"].get<double>(), kTolerance);
  EXPECT_NEAR(m.weighted.recall, e["weighted"]["recall"].get<double>(), kTolerance);
  EXPECT_NEAR(m.weighted.specificity, e["weighted"]["specificity"].get<double>(), kTolerance);
  EXPECT_NEAR(m.weighted.f1, e["weighted"]["f1"].get<double>(), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Cases, SklearnParity, ::testing::Range<size_t>(0, 5),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return fixture()["cases"][info.param]["name"].get<std::string>();
                         });

TEST(SklearnParityFixture, HasTheCasesTheSuiteExpects) { EXPECT_EQ(fixture()["cases"].size(), 5u); }

TEST(MetricsIntervals, PercentileMatchesNumpyLinear) {
  const json& p = fixture()["percentile"];
  const std::vector<double> values = p["values"].get<std::vector<double>>();
  for (const json& c : p["cases"])
    EXPECT_NEAR(percentile(values, c["q"].get<double>()), c["value"].get<double>(), 1e-14) << "q " << c["q"];
}

TEST(MetricsIntervals, WilsonMatchesClosedFormAndNormalQuantile) {
  for (const json& c : fixture()["wilson"]) {
    const double confidence = c["confidence"].get<double>();
    EXPECT_NEAR(normal_quantile(0.5 + confidence / 2.0), c["z"].get<double>(), 1e-13);
    const Interval got = wilson_interval(c["successes"].get<int64_t>(), c["trials"].get<int64_t>(), confidence);
    EXPECT_NEAR(got.low, c["interval"][0].get<double>(), 1e-12) << c.dump();
    EXPECT_NEAR(got.high, c["interval"][1].get<double>(), 1e-12) << c.dump();
  }
}

}  // namespace
}  // namespace pneuma::metrics
