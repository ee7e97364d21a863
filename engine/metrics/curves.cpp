// ROC / precision-recall curves, ROC AUC and average precision of one binary problem, following scikit-learn's
// _binary_clf_curve: sort by score descending, one step per distinct score, cumulative true/false positives.
#include "engine/metrics/curves.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/error.h"

namespace pneuma::metrics {
namespace {

// Cumulative counts at each distinct threshold, thresholds descending (the last step predicts everything
// positive). Integer counts, so everything derived from them is exact up to the final divisions.
struct ThresholdSteps {
  std::vector<int64_t> true_positives, false_positives;
  std::vector<double> thresholds;
  int64_t positives() const { return true_positives.empty() ? 0 : true_positives.back(); }
  int64_t negatives() const { return false_positives.empty() ? 0 : false_positives.back(); }
};

ThresholdSteps threshold_steps(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                               const char* caller) {
  PNEUMA_CHECK(scores.size() == is_positive.size(), "%s: %zu scores but %zu labels", caller, scores.size(),
               is_positive.size());
  PNEUMA_CHECK(!scores.empty(), "%s: no samples", caller);
  for (size_t i = 0; i < scores.size(); ++i)
    PNEUMA_CHECK(std::isfinite(scores[i]), "%s: score %zu is not finite (%g)", caller, i, scores[i]);
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ThresholdSteps steps;
  int64_t true_positives = 0, false_positives = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    (is_positive[i] ? true_positives : false_positives) += 1;
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[i]) {
      steps.true_positives.push_back(true_positives);
      steps.false_positives.push_back(false_positives);
      steps.thresholds.push_back(scores[i]);
    }
  }
  return steps;
}

}  // namespace

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  const ThresholdSteps steps = threshold_steps(scores, is_positive, "roc_curve");
  PNEUMA_CHECK(steps.positives() > 0 && steps.negatives() > 0,
               "roc_curve: needs positive and negative samples (got %lld positive, %lld negative)",
               static_cast<long long>(steps.positives()), static_cast<long long>(steps.negatives()));
  const size_t m = steps.thresholds.size();
  RocCurve curve;
  curve.false_positive_rate.push_back(0.0);
  curve.true_positive_rate.push_back(0.0);
  curve.thresholds.push_back(std::numeric_limits<double>::infinity());
  const double positives = static_cast<double>(steps.positives());
  const double negatives = static_cast<double>(steps.negatives());
  for (size_t i = 0; i < m; ++i) {
    // Keep the ends and every corner: a point is dropped when both counts are collinear with its neighbours.
    if (m > 2 && i > 0 && i + 1 < m) {
      const int64_t fp_bend =
          steps.false_positives[i + 1] - 2 * steps.false_positives[i] + steps.false_positives[i - 1];
      const int64_t tp_bend = steps.true_positives[i + 1] - 2 * steps.true_positives[i] + steps.true_positives[i - 1];
      if (fp_bend == 0 && tp_bend == 0) continue;
    }
    curve.false_positive_rate.push_back(static_cast<double>(steps.false_positives[i]) / negatives);
    curve.true_positive_rate.push_back(static_cast<double>(steps.true_positives[i]) / positives);
    curve.thresholds.push_back(steps.thresholds[i]);
  }
  return curve;
}

PrecisionRecallCurve precision_recall_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  const ThresholdSteps steps = threshold_steps(scores, is_positive, "precision_recall_curve");
  PNEUMA_CHECK(steps.positives() > 0 && steps.negatives() > 0,
               "precision_recall_curve: needs positive and negative samples (got %lld positive, %lld negative)",
               static_cast<long long>(steps.positives()), static_cast<long long>(steps.negatives()));
  PrecisionRecallCurve curve;
  const double positives = static_cast<double>(steps.positives());
  for (size_t k = steps.thresholds.size(); k-- > 0;) {  // increasing threshold
    const int64_t predicted = steps.true_positives[k] + steps.false_positives[k];
    curve.precision.push_back(static_cast<double>(steps.true_positives[k]) / static_cast<double>(predicted));
    curve.recall.push_back(static_cast<double>(steps.true_positives[k]) / positives);
    curve.thresholds.push_back(steps.thresholds[k]);
  }
  curve.precision.push_back(1.0);
  curve.recall.push_back(0.0);
  return curve;
}

double roc_auc(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  const ThresholdSteps steps = threshold_steps(scores, is_positive, "roc_auc");
  if (steps.positives() == 0 || steps.negatives() == 0) return std::numeric_limits<double>::quiet_NaN();
  // Trapezoids in count units: each step adds Δfp · (tp_before + tp_after) / 2, exact in integers (doubled).
  int64_t doubled_area = 0, previous_tp = 0, previous_fp = 0;
  for (size_t i = 0; i < steps.thresholds.size(); ++i) {
    doubled_area += (steps.false_positives[i] - previous_fp) * (steps.true_positives[i] + previous_tp);
    previous_tp = steps.true_positives[i];
    previous_fp = steps.false_positives[i];
  }
  return static_cast<double>(doubled_area) /
         (2.0 * static_cast<double>(steps.positives()) * static_cast<double>(steps.negatives()));
}

double average_precision(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  const ThresholdSteps steps = threshold_steps(scores, is_positive, "average_precision");
  if (steps.positives() == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0.0;
  int64_t previous_tp = 0;
  for (size_t i = 0; i < steps.thresholds.size(); ++i) {
    const int64_t tp = steps.true_positives[i];
    const double precision = static_cast<double>(tp) / static_cast<double>(tp + steps.false_positives[i]);
    sum += static_cast<double>(tp - previous_tp) * precision;
    previous_tp = tp;
  }
  return sum / static_cast<double>(steps.positives());
}

}  // namespace pneuma::metrics
