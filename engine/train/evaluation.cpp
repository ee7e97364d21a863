// Metrics, metrics.json, report.html and Grad-CAM overlays for one split (see evaluation.h).
#include "engine/train/evaluation.h"

#include <cstdio>
#include <filesystem>

#include "engine/data/image.h"
#include "engine/explain/heat_map.h"
#include "engine/explain/png.h"
#include "engine/metrics/metrics_json.h"
#include "engine/ops.h"
#include "engine/report/html_report.h"
#include "engine/train/loss.h"
#include "engine/train/predict.h"
#include "engine/train/training_device.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

namespace fs = std::filesystem;

// Up to `count` rows of the evaluated split, taking the classes in turn (first unused row of each), so the
// overlays show every class when there are enough.
std::vector<size_t> pick_rows(const std::vector<int32_t>& labels, int64_t classes, int64_t count) {
  std::vector<size_t> rows;
  std::vector<size_t> next(static_cast<size_t>(classes), 0);
  bool found = true;
  while (static_cast<int64_t>(rows.size()) < count && found) {
    found = false;
    for (int64_t c = 0; c < classes && static_cast<int64_t>(rows.size()) < count; ++c) {
      size_t& r = next[static_cast<size_t>(c)];
      while (r < labels.size() && labels[r] != c) ++r;
      if (r < labels.size()) {
        rows.push_back(r++);
        found = true;
      }
    }
  }
  return rows;
}

std::vector<report::EmbeddedImage> grad_cam_images(const EvaluationInputs& inputs, const Predictions& predictions,
                                                   int64_t count) {
  std::vector<report::EmbeddedImage> images;
  if (count <= 0 || !inputs.grad_cam.features || !inputs.grad_cam.classify) return images;
  const std::vector<int32_t> labels = predictions.labels.to_vector<int32_t>();
  const std::vector<int32_t> predicted = predicted_classes(predictions.probabilities);
  const std::vector<float> probabilities = predictions.probabilities.to_vector<float>();
  const int64_t columns = predictions.probabilities.dim(1);
  const bool was_training = inputs.model->is_training();
  const Device device = module_device(*inputs.model);  // Grad-CAM takes the image where the model runs
  inputs.model->eval();
  for (size_t row : pick_rows(labels, static_cast<int64_t>(inputs.class_names.size()), count)) {
    const data::Sample& sample = inputs.dataset->samples.at(predictions.sample_indices[row]);
    const Tensor input = data::preprocess_file(sample.path, inputs.preprocess).to(device);
    const explain::GradCamResult cam = explain::grad_cam(inputs.grad_cam.features, inputs.grad_cam.classify, input, -1);
    const Image overlay = explain::overlay_heat_map(data::model_view_rgb(sample.path, inputs.preprocess), cam.heat_map);
    const double p = columns == 1 ? (predicted[row] == 1 ? probabilities[row] : 1 - probabilities[row])
                                  : probabilities[row * columns + predicted[row]];
    const std::string explained = columns == 1 ? inputs.class_names.at(1) : inputs.class_names.at(cam.class_index);
    images.push_back({detail::format_message("%s: true %s, predicted %s (p = %.3f); Grad-CAM of %s",
                                             fs::path(sample.path).filename().c_str(),
                                             inputs.class_names.at(labels[row]).c_str(),
                                             inputs.class_names.at(predicted[row]).c_str(), p, explained.c_str()),
                      explain::encode_png(overlay)});
  }
  for (const Tensor& parameter : inputs.model->parameters()) {
    Tensor handle = parameter;
    handle.zero_grad();  // Grad-CAM's backward reached the head's parameters
  }
  inputs.model->train(was_training);
  return images;
}

}  // namespace

std::vector<report::EpochRecord> report_history(const History& history) {
  std::vector<report::EpochRecord> records;
  for (const EpochRecord& e : history.epochs) {
    report::EpochRecord r;
    r.epoch = e.epoch;
    r.learning_rate = e.learning_rate;
    r.train_loss = e.train_loss;
    r.val_loss = e.val_loss;
    r.train_accuracy = e.train_accuracy;
    r.val_accuracy = e.val_accuracy;
    r.val_macro_f1 = e.val_f1;
    r.val_macro_roc_auc = e.val_auc;
    r.seconds = e.seconds;
    records.push_back(r);
  }
  return records;
}

std::string format_recall_lines(const metrics::ClassificationMetrics& m) {
  size_t width = 0;
  for (const metrics::ClassMetrics& c : m.classes) width = std::max(width, c.name.size());
  std::string text;
  for (size_t k = 0; k < m.classes.size(); ++k) {
    const metrics::ClassMetrics& c = m.classes[k];
    text += detail::format_message("  recall %-*s %.3f", static_cast<int>(width), c.name.c_str(), c.recall);
    if (m.has_bootstrap && k < m.bootstrap.recall.size())
      text += detail::format_message("  [%.3f, %.3f]", m.bootstrap.recall[k].interval.low,
                                     m.bootstrap.recall[k].interval.high);
    text += detail::format_message("  (%lld images)\n", static_cast<long long>(c.support));
  }
  return text;
}

metrics::ClassificationMetrics evaluate_and_report(const EvaluationInputs& inputs, const EvaluationSettings& settings) {
  PNEUMA_CHECK(inputs.model && inputs.source && inputs.dataset, "evaluation: model, source and dataset are required");
  PredictOptions predict_options;
  predict_options.tta_flip = settings.tta_flip;
  const Predictions predictions = predict(*inputs.model, *inputs.source, predict_options);
  PNEUMA_CHECK(all_finite(predictions.probabilities), "the model's predictions on the %s split are not finite",
               settings.split_name.c_str());

  metrics::MetricsOptions options;
  options.class_names = inputs.class_names;
  options.bootstrap.resamples = settings.bootstrap;
  options.bootstrap.seed = settings.seed;
  options.keep_curves = true;
  const metrics::ClassificationMetrics result =
      metrics::compute_classification_metrics(predictions.probabilities, predictions.labels, options);

  const fs::path out(settings.out_dir);
  metrics::write_metrics_json((out / "metrics.json").string(), result, true);

  report::RunReport run_report;
  run_report.title = settings.title;
  run_report.subtitle = settings.subtitle;
  run_report.configuration_json = settings.configuration_json;
  if (inputs.history) run_report.history = report_history(*inputs.history);
  run_report.metrics = result;
  run_report.metrics_split = settings.split_name + (settings.tta_flip ? " (flip TTA)" : "");
  run_report.dataset = inputs.dataset_summary;
  run_report.images = grad_cam_images(inputs, predictions, settings.gradcam_images);
  report::write_report_html((out / "report.html").string(), run_report);

  std::printf("%s split: %lld images%s\n%s\nper-class recall (sensitivity)%s:\n%s", settings.split_name.c_str(),
              static_cast<long long>(result.num_samples), settings.tta_flip ? ", flip TTA" : "",
              metrics::format_metrics_table(result).c_str(),
              result.has_bootstrap ? " with 95% bootstrap intervals" : "", format_recall_lines(result).c_str());
  std::printf("wrote %s and %s\n", (out / "metrics.json").c_str(), (out / "report.html").c_str());
  std::fflush(stdout);
  return result;
}

}  // namespace pneuma::train
