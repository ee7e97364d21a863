// Threshold curves of one binary problem (scores of the positive class against 0/1 truth): ROC curve and ROC AUC,
// precision-recall curve and average precision. Definitions follow scikit-learn exactly, ties included:
// samples with equal scores form one threshold step, so the ROC AUC is the trapezoidal area that counts a tied
// positive/negative pair as one half, and average precision is Σ_n (R_n − R_{n−1})·P_n over the distinct thresholds
// (no interpolation).
#pragma once
#include <cstdint>
#include <vector>

namespace pneuma::metrics {

// ROC points from (0, 0) to (1, 1), thresholds descending. The first point has threshold +infinity (nothing
// predicted positive). Collinear intermediate points are dropped like sklearn's roc_curve(drop_intermediate=True).
struct RocCurve {
  std::vector<double> false_positive_rate, true_positive_rate, thresholds;
};

// Precision-recall points ordered by increasing threshold, like sklearn's precision_recall_curve: the last point
// is (recall 0, precision 1) and has no threshold, so thresholds has one element fewer than precision/recall.
struct PrecisionRecallCurve {
  std::vector<double> precision, recall, thresholds;
};

// `is_positive[i]` says whether sample i belongs to the positive class; `scores` and `is_positive` have equal size.
// Both curves need at least one positive and one negative sample (checked: a clear error otherwise).
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive);
PrecisionRecallCurve precision_recall_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive);

// NaN when the problem is undefined: no positive or no negative sample (ROC AUC), no positive sample (AP).
double roc_auc(const std::vector<double>& scores, const std::vector<bool>& is_positive);
double average_precision(const std::vector<double>& scores, const std::vector<bool>& is_positive);

}  // namespace pneuma::metrics
