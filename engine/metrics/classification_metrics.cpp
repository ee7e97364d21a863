// Classification metrics from probabilities and labels: validation of the inputs, confusion matrix, per-class and
// averaged precision/recall/specificity/F1, one-vs-rest ROC AUC and average precision with their curves, the
// Wilson interval of the accuracy and (optionally) the bootstrap.
#include "engine/metrics/classification_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/metrics/bootstrap.h"
#include "kernels/error.h"

namespace pneuma::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(int64_t numerator, int64_t denominator) {
  return denominator > 0 ? static_cast<double>(numerator) / static_cast<double>(denominator) : 0.0;
}

double mean_of_defined(const std::vector<double>& values) {
  double sum = 0.0;
  int count = 0;
  for (double v : values)
    if (!std::isnan(v)) {
      sum += v;
      ++count;
    }
  return count > 0 ? sum / count : kNaN;
}

std::vector<int64_t> labels_from_tensor(const Tensor& labels) {
  PNEUMA_CHECK(labels.defined(), "metrics: labels are undefined");
  PNEUMA_CHECK(labels.rank() == 1 || (labels.rank() == 2 && labels.dim(1) == 1),
               "metrics: labels must be [N] or [N, 1], got %s", shape_string(labels.shape()).c_str());
  const Tensor host = labels.to(Device::cpu());
  if (host.dtype() == DType::i64) return host.to_vector<int64_t>();
  PNEUMA_CHECK(host.dtype() == DType::i32, "metrics: labels must be i32 or i64, got %s", labels.describe().c_str());
  const std::vector<int32_t> values = host.to_vector<int32_t>();
  return {values.begin(), values.end()};
}

}  // namespace

ClassificationMetrics compute_classification_metrics(const Tensor& probabilities, const Tensor& labels,
                                                     const MetricsOptions& options) {
  PNEUMA_CHECK(probabilities.defined(), "metrics: probabilities are undefined");
  PNEUMA_CHECK(probabilities.dtype() == DType::f32 || probabilities.dtype() == DType::f64,
               "metrics: probabilities must be f32 or f64, got %s", probabilities.describe().c_str());
  PNEUMA_CHECK(probabilities.rank() == 1 || probabilities.rank() == 2,
               "metrics: probabilities must be [N, K], [N] or [N, 1], got %s",
               shape_string(probabilities.shape()).c_str());
  const std::vector<int64_t> label_values = labels_from_tensor(labels);
  const int64_t n = probabilities.dim(0);
  PNEUMA_CHECK(static_cast<int64_t>(label_values.size()) == n, "metrics: %lld probability rows but %zu labels",
               static_cast<long long>(n), label_values.size());
  const std::vector<double> values = probabilities.to(Device::cpu()).to(DType::f64).to_vector<double>();
  const bool binary_sigmoid = probabilities.rank() == 1 || probabilities.dim(1) == 1;
  if (!binary_sigmoid) return compute_classification_metrics(values, probabilities.dim(1), label_values, options);

  std::vector<double> two_columns(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const double p = values[static_cast<size_t>(i)];
    PNEUMA_CHECK(p >= 0.0 && p <= 1.0, "metrics: positive-class probability %lld is %g, outside [0, 1]",
                 static_cast<long long>(i), p);
    two_columns[static_cast<size_t>(2 * i)] = 1.0 - p;
    two_columns[static_cast<size_t>(2 * i + 1)] = p;
  }
  return compute_classification_metrics(two_columns, 2, label_values, options);
}

ClassificationMetrics compute_classification_metrics(const std::vector<double>& probabilities, int64_t num_classes,
                                                     const std::vector<int64_t>& labels,
                                                     const MetricsOptions& options) {
  PNEUMA_CHECK(num_classes >= 2, "metrics: need at least 2 classes, got %lld", static_cast<long long>(num_classes));
  const size_t n = labels.size(), k = static_cast<size_t>(num_classes);
  PNEUMA_CHECK(n > 0, "metrics: no samples");
  PNEUMA_CHECK(probabilities.size() == n * k, "metrics: %zu probabilities do not fill %zu samples x %zu classes",
               probabilities.size(), n, k);
  for (size_t i = 0; i < probabilities.size(); ++i)
    PNEUMA_CHECK(std::isfinite(probabilities[i]), "metrics: probability of sample %zu, class %zu is not finite (%g)",
                 i / k, i % k, probabilities[i]);
  for (size_t i = 0; i < n; ++i)
    PNEUMA_CHECK(labels[i] >= 0 && labels[i] < num_classes, "metrics: label of sample %zu is %lld, outside [0, %lld)",
                 i, static_cast<long long>(labels[i]), static_cast<long long>(num_classes));
  PNEUMA_CHECK(options.class_names.empty() || options.class_names.size() == k,
               "metrics: %zu class names for %zu classes", options.class_names.size(), k);
  PNEUMA_CHECK(options.confidence > 0.0 && options.confidence < 1.0, "metrics: confidence must be in (0, 1), got %g",
               options.confidence);

  ClassificationMetrics m;
  m.num_samples = static_cast<int64_t>(n);
  m.num_classes = num_classes;
  for (size_t c = 0; c < k; ++c)
    m.class_names.push_back(options.class_names.empty() ? "class_" + std::to_string(c) : options.class_names[c]);

  m.confusion.assign(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < n; ++i) {
    const double* row = probabilities.data() + i * k;
    const auto predicted = static_cast<size_t>(std::max_element(row, row + k) - row);  // first maximum
    ++m.confusion[static_cast<size_t>(labels[i])][predicted];
  }
  for (size_t c = 0; c < k; ++c) m.correct += m.confusion[c][c];
  m.accuracy = ratio(m.correct, m.num_samples);
  m.wilson_confidence = options.confidence;
  m.accuracy_wilson = wilson_interval(m.correct, m.num_samples, options.confidence);

  std::vector<double> aucs, average_precisions;
  for (size_t c = 0; c < k; ++c) {
    ClassMetrics cm;
    cm.name = m.class_names[c];
    for (size_t j = 0; j < k; ++j) {
      cm.support += m.confusion[c][j];
      cm.predicted += m.confusion[j][c];
    }
    const int64_t tp = m.confusion[c][c];
    const int64_t fp = cm.predicted - tp, fn = cm.support - tp;
    const int64_t tn = m.num_samples - tp - fp - fn;
    cm.precision = ratio(tp, tp + fp);
    cm.recall = ratio(tp, tp + fn);
    cm.specificity = ratio(tn, tn + fp);
    cm.f1 = cm.precision + cm.recall > 0.0 ? 2.0 * cm.precision * cm.recall / (cm.precision + cm.recall) : 0.0;

    std::vector<double> scores(n);
    std::vector<bool> is_positive(n);
    for (size_t i = 0; i < n; ++i) {
      scores[i] = probabilities[i * k + c];
      is_positive[i] = static_cast<size_t>(labels[i]) == c;
    }
    const bool defined = cm.support > 0 && cm.support < m.num_samples;
    cm.roc_auc = defined ? roc_auc(scores, is_positive) : kNaN;
    cm.average_precision = cm.support > 0 ? average_precision(scores, is_positive) : kNaN;
    if (defined && options.keep_curves) {
      cm.roc = roc_curve(scores, is_positive);
      cm.precision_recall = precision_recall_curve(scores, is_positive);
    }
    aucs.push_back(cm.roc_auc);
    average_precisions.push_back(cm.average_precision);
    m.classes.push_back(std::move(cm));
  }

  // Sums first, one division last (numpy's mean / average), so the numbers match scikit-learn to the last bits.
  for (const ClassMetrics& cm : m.classes) {
    const auto support = static_cast<double>(cm.support);
    m.macro.precision += cm.precision;
    m.macro.recall += cm.recall;
    m.macro.specificity += cm.specificity;
    m.macro.f1 += cm.f1;
    m.weighted.precision += cm.precision * support;
    m.weighted.recall += cm.recall * support;
    m.weighted.specificity += cm.specificity * support;
    m.weighted.f1 += cm.f1 * support;
  }
  for (double* v : {&m.macro.precision, &m.macro.recall, &m.macro.specificity, &m.macro.f1})
    *v /= static_cast<double>(k);
  for (double* v : {&m.weighted.precision, &m.weighted.recall, &m.weighted.specificity, &m.weighted.f1})
    *v /= static_cast<double>(n);
  m.macro_roc_auc = mean_of_defined(aucs);
  m.macro_average_precision = mean_of_defined(average_precisions);

  if (options.bootstrap.resamples > 0) {
    m.has_bootstrap = true;
    m.bootstrap = bootstrap_metrics(probabilities, num_classes, labels, options.bootstrap);
  }
  return m;
}

}  // namespace pneuma::metrics
