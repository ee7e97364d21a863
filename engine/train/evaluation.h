// The end of a run and the whole of `pneuma eval`: predictions over one split, the metrics with bootstrap
// confidence intervals, metrics.json and a self-contained report.html (training curves when there is a history,
// confusion matrix, ROC/PR curves, Grad-CAM overlays of a few images), and the per-class recall printed with its
// interval. The model is reached through nn::Module plus, for Grad-CAM, its two halves as functions, so this
// needs no model type. Predictions and Grad-CAM run on the device the model is on; metrics on host copies.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/preprocess.h"
#include "engine/explain/grad_cam.h"
#include "engine/metrics/classification_metrics.h"
#include "engine/nn/module.h"
#include "engine/report/run_report.h"
#include "engine/train/batch_source.h"
#include "engine/train/history.h"

namespace pneuma::train {

struct EvaluationSettings {
  std::string split_name = "test";
  int64_t bootstrap = 1000;
  uint64_t seed = 0;
  bool tta_flip = false;
  int64_t gradcam_images = 4;  // 0: none
  std::string out_dir;         // receives metrics.json and report.html
  std::string title = "pneuma run report", subtitle;
  std::string configuration_json;
};

// The model's two halves for Grad-CAM (feature map, then logits); leave empty for no Grad-CAM.
struct GradCamFunctions {
  explain::TensorFunction features, classify;
};

struct EvaluationInputs {
  nn::Module* model = nullptr;
  GradCamFunctions grad_cam;
  BatchSource* source = nullptr;  // the split's images, in order
  const data::Dataset* dataset = nullptr;
  data::PreprocessOptions preprocess;  // to show the Grad-CAM images as the model saw them
  std::vector<std::string> class_names;
  const History* history = nullptr;  // training curves, when evaluating at the end of training
  std::optional<report::DatasetSummary> dataset_summary;
};

metrics::ClassificationMetrics evaluate_and_report(const EvaluationInputs& inputs, const EvaluationSettings& settings);

// The training history in the report's form.
std::vector<report::EpochRecord> report_history(const History& history);

// "recall normal 0.912 [0.871, 0.947]"-style lines, one per class (the bootstrap interval when present).
std::string format_recall_lines(const metrics::ClassificationMetrics& metrics);

}  // namespace pneuma::train
