// What a training or evaluation run hands to the HTML report: per-epoch history, the evaluation metrics, the run's
// configuration, a dataset summary and optional images. Every part is optional; the report shows what is present.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "engine/metrics/classification_metrics.h"

namespace pneuma::report {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();  // a value not measured (not plotted)

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double learning_rate = kMissing;
  double train_loss = kMissing, val_loss = kMissing;
  double train_accuracy = kMissing, val_accuracy = kMissing;
  double val_macro_f1 = kMissing, val_macro_roc_auc = kMissing;
  double seconds = kMissing;  // wall time of the epoch
};

struct SplitSummary {
  std::string name;                   // "train", "val", "test"
  std::vector<int64_t> class_counts;  // one per class, in class_names order
};

struct DatasetSummary {
  std::string source;  // e.g. the data directory or labels.csv
  std::vector<std::string> class_names;
  std::vector<SplitSummary> splits;
  int64_t skipped = 0;             // unreadable or filtered-out entries
  int64_t duplicates = 0;          // exact duplicates removed
  std::vector<std::string> notes;  // free text lines (split method, grouping key, ...)
};

struct EmbeddedImage {
  std::string caption;
  std::string png_bytes;  // an encoded PNG (see engine/explain/png.h encode_png)
};

struct RunReport {
  std::string title = "pneuma run report";
  std::string subtitle;            // e.g. model name, checkpoint path, date
  std::string configuration_json;  // the run's configuration; pretty-printed when it parses as JSON
  std::vector<EpochRecord> history;
  std::optional<metrics::ClassificationMetrics> metrics;  // needs keep_curves for the ROC/PR charts
  std::string metrics_split = "test";                     // which split `metrics` was computed on
  std::optional<DatasetSummary> dataset;
  std::vector<EmbeddedImage> images;
};

}  // namespace pneuma::report
