// Evaluation of a classifier from its predicted probabilities and the integer labels.
//
// Input: probabilities f32/f64 [N, K] (softmax outputs; K >= 2), or [N] / [N, 1] positive-class probabilities of a
// binary sigmoid model, which are treated as [N, 2] = (1 − p, p). Labels i32/i64 [N] in [0, K).
// The predicted class is the arg-max of a row, ties going to the lowest index (so a binary p = 0.5 predicts 0).
//
// Conventions (those of scikit-learn with zero_division=0, so the numbers compare one to one):
//   precision_c = TP/(TP+FP), recall_c (sensitivity) = TP/(TP+FN), specificity_c = TN/(TN+FP),
//   F1_c = 2·P·R/(P+R); a 0/0 ratio is 0. Macro = unweighted mean over all K classes; weighted = mean weighted by
//   support (number of true samples of the class). Confusion matrix rows = true class, columns = predicted class.
//   ROC AUC and average precision of class c are one-vs-rest on column c (see curves.h); they are NaN when class c
//   has no positive (or, for ROC AUC, no negative) sample, and the macro averages skip NaN classes (NaN if none).
//
// Bootstrap (when bootstrap.resamples > 0): each resample draws N sample indices with replacement — stratified by
// default, i.e. n_c indices from each class c's own samples, which keeps the class mix of the evaluation set —
// and recomputes accuracy, macro F1, per-class recall and macro ROC AUC. The interval is the percentile interval
// [q(α/2), q(1 − α/2)] over the resamples (α = 1 − confidence). A resample in which a statistic is undefined (a
// class absent when not stratified) is skipped for that statistic; `valid_resamples` counts the ones used.
// Random indices come from a Philox Generator seeded with bootstrap.seed, so results are reproducible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/metrics/curves.h"
#include "engine/metrics/intervals.h"
#include "engine/tensor.h"

namespace pneuma::metrics {

struct BootstrapOptions {
  int64_t resamples = 1000;  // 0 disables the bootstrap
  uint64_t seed = 0;
  bool stratified = true;
  double confidence = 0.95;
};

struct MetricsOptions {
  std::vector<std::string> class_names;  // empty: "class_0", "class_1", ...; else exactly K names
  BootstrapOptions bootstrap;
  double confidence = 0.95;  // for the Wilson interval of the accuracy
  bool keep_curves = true;   // fill per-class ROC/PR curve points (needed by the report)
};

struct ClassMetrics {
  std::string name;
  int64_t support = 0;    // true samples of the class
  int64_t predicted = 0;  // samples predicted as the class
  double precision = 0, recall = 0, specificity = 0, f1 = 0;
  double roc_auc = 0;            // NaN when undefined
  double average_precision = 0;  // NaN when undefined
  RocCurve roc;                  // empty when undefined or keep_curves is off
  PrecisionRecallCurve precision_recall;
};

struct AveragedMetrics {
  double precision = 0, recall = 0, specificity = 0, f1 = 0;
};

// A point estimate with its bootstrap percentile interval.
struct BootstrapEstimate {
  double value = 0;  // the statistic on the full evaluation set
  Interval interval;
  int64_t valid_resamples = 0;
};

struct BootstrapResults {
  BootstrapOptions options;
  BootstrapEstimate accuracy, macro_f1, macro_roc_auc;
  std::vector<BootstrapEstimate> recall;  // per class
};

struct ClassificationMetrics {
  int64_t num_samples = 0;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  int64_t correct = 0;
  double accuracy = 0;
  Interval accuracy_wilson;
  double wilson_confidence = 0.95;
  std::vector<ClassMetrics> classes;
  AveragedMetrics macro, weighted;
  double macro_roc_auc = 0;                     // NaN when no class has one
  double macro_average_precision = 0;           // NaN when no class has one
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  bool has_bootstrap = false;
  BootstrapResults bootstrap;
};

// Validates shapes, dtypes, label range and finiteness (one clear error naming what is wrong).
ClassificationMetrics compute_classification_metrics(const Tensor& probabilities, const Tensor& labels,
                                                     const MetricsOptions& options = {});
// The same from host arrays: `probabilities` row-major [N, num_classes].
ClassificationMetrics compute_classification_metrics(const std::vector<double>& probabilities, int64_t num_classes,
                                                     const std::vector<int64_t>& labels,
                                                     const MetricsOptions& options = {});

}  // namespace pneuma::metrics
