// Serialising ClassificationMetrics: metrics.json (stable key names, documented below) and a compact text table for
// the terminal.
//
// metrics.json (schema "pneuma.metrics/1"; object keys are written in sorted order); non-finite numbers (undefined
// AUCs, the +inf first ROC threshold) are written as null:
// {
//   "schema": "pneuma.metrics/1", "num_samples": N, "num_classes": K, "class_names": [...],
//   "accuracy": a, "correct": n, "accuracy_wilson": {"confidence": 0.95, "low": l, "high": h},
//   "macro":    {"precision", "recall", "specificity", "f1", "roc_auc", "average_precision"},
//   "weighted": {"precision", "recall", "specificity", "f1"},
//   "per_class": [{"name", "support", "predicted", "precision", "recall", "specificity", "f1", "roc_auc",
//                  "average_precision"}, ...],
//   "confusion_matrix": [[...], ...]                          (rows = true class, columns = predicted),
//   "bootstrap": null | {"resamples", "seed", "stratified", "confidence",
//                        "accuracy" | "macro_f1" | "macro_roc_auc": {"value", "low", "high", "valid_resamples"},
//                        "recall": [{"name", "value", "low", "high", "valid_resamples"}, ...]},
//   "curves": {"roc": [{"name", "fpr": [...], "tpr": [...], "thresholds": [...]} | null per class],
//              "pr":  [{"name", "precision": [...], "recall": [...], "thresholds": [...]} | null per class]}
//              (present only with include_curves)
// }
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "engine/metrics/classification_metrics.h"

namespace pneuma::metrics {

nlohmann::json metrics_to_json(const ClassificationMetrics& metrics, bool include_curves = false);
// Writes metrics_to_json(...).dump(2) atomically (temporary file + rename).
void write_metrics_json(const std::string& path, const ClassificationMetrics& metrics, bool include_curves = false);

// A fixed-width table: one row per class (support, precision, recall [with its bootstrap interval], specificity, F1,
// ROC AUC, AP), macro and weighted rows, then accuracy with its Wilson and bootstrap intervals, macro F1 and macro
// ROC AUC with theirs, and the confusion matrix.
std::string format_metrics_table(const ClassificationMetrics& metrics);

}  // namespace pneuma::metrics
