// `pneuma eval CKPT --data DATA [--split test] [--tta flip] [--device cuda]`: evaluates a pneuma checkpoint on one
// split of a dataset and writes metrics.json and report.html (metrics with bootstrap intervals, confusion matrix,
// ROC/PR curves, Grad-CAM overlays), printing the per-class recall with its interval. The model runs on --device.
//
// The images are preprocessed exactly as the checkpoint's normalisation says. A checkpoint written by
// `pneuma train` also carries the run's options, so the same splits are carved again (seed, fractions, grouping):
// `--split test` is the very test split the run reported on. The data's classes must be the checkpoint's.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/train/data_setup.h"
#include "engine/train/evaluation.h"
#include "engine/train/loader_batch_source.h"
#include "engine/train/output_directory.h"
#include "engine/train/train_config.h"
#include "engine/train/training_device.h"
#include "kernels/error.h"
#include "kernels/parallel.h"
#include "tools/command.h"
#include "weights_import/model_checkpoint.h"

namespace pneuma::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct EvalOptions {
  std::string checkpoint, data, split = "test", tta = "none", out, label_column, filter, image_root, device = "cpu";
  int64_t batch_size = 32, threads = 0, bootstrap = 1000, gradcam = 4;
  bool strict = false;
};

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return "[" + text + "]";
}

// The training run's options from the checkpoint (defaults for a checkpoint not written by pneuma train), with
// the data options of this command line over them.
train::TrainConfig evaluation_config(const weights_import::ModelCheckpoint& checkpoint, const EvalOptions& options) {
  auto found = checkpoint.metadata.find("pneuma.train_config");
  train::TrainConfig config =
      found == checkpoint.metadata.end() ? train::TrainConfig{} : train::TrainConfig::from_json(json::parse(found->second));
  if (!options.data.empty()) config.data = options.data;
  PNEUMA_CHECK(!config.data.empty(), "no data given (--data FOLDER or --data labels.csv)");
  if (!options.label_column.empty()) config.label_column = options.label_column;
  if (!options.filter.empty()) config.filter = options.filter;
  if (!options.image_root.empty()) config.image_root = options.image_root;
  config.classes.clear();  // the checkpoint decides the classes (checked below)
  config.batch_size = options.batch_size;
  config.strict = options.strict;
  config.check_duplicates = config.drop_duplicates;  // only needed to drop the pairs the run dropped
  config.cache.clear();
  return config;
}

int run_eval(const EvalOptions& options) {
  PNEUMA_CHECK(options.tta == "none" || options.tta == "flip", "--tta must be none or flip, got '%s'",
               options.tta.c_str());
  const Device device = train::training_device(options.device);
  if (options.threads > 0) kernels::set_max_threads(static_cast<int>(options.threads));
  const int threads = kernels::max_threads();
  const std::string out = options.out.empty()
                              ? (fs::path(options.checkpoint).parent_path() / ("eval-" + options.split)).string()
                              : options.out;
  train::prepare_output_directory(out);
  weights_import::ModelCheckpoint checkpoint = weights_import::load_model_checkpoint(options.checkpoint);
  std::shared_ptr<models::ImageClassifier> model = checkpoint.model;
  model->to(device);  // predictions and Grad-CAM run where the model is

  train::TrainConfig config = evaluation_config(checkpoint, options);
  data::Dataset dataset = train::load_dataset(config);
  std::vector<std::string> sorted_checkpoint = checkpoint.class_names, sorted_data = dataset.class_names;
  std::sort(sorted_checkpoint.begin(), sorted_checkpoint.end());
  std::sort(sorted_data.begin(), sorted_data.end());
  PNEUMA_CHECK(sorted_checkpoint == sorted_data, "%s was trained on the classes %s, but the data %s has %s",
               options.checkpoint.c_str(), join(checkpoint.class_names).c_str(), config.data.c_str(),
               join(dataset.class_names).c_str());
  if (dataset.class_names != checkpoint.class_names) {  // same classes in another order: label as the checkpoint
    config.classes = checkpoint.class_names;
    dataset = train::load_dataset(config);
  }
  const train::RunSplits splits = train::make_run_splits(dataset, config, threads);
  const std::vector<size_t> indices = train::split_indices(dataset, splits.splits, options.split);
  PNEUMA_CHECK(!indices.empty(), "the %s split of %s has no images", options.split.c_str(), config.data.c_str());

  const data::PreprocessOptions preprocess = checkpoint.normalization.preprocess_options();
  train::LoaderBatchSource source(dataset, indices, train::loader_options(config, preprocess, false, threads));
  train::EvaluationInputs inputs;
  inputs.model = model.get();
  inputs.grad_cam = {[model](const Tensor& images) { return model->features(images); },
                     [model](const Tensor& features) { return model->classify(features); }};
  inputs.source = &source;
  inputs.dataset = &dataset;
  inputs.preprocess = preprocess;
  inputs.class_names = checkpoint.class_names;
  inputs.dataset_summary = train::dataset_summary(dataset, splits);
  train::EvaluationSettings settings;
  settings.split_name = options.split;
  settings.bootstrap = options.bootstrap;
  settings.seed = config.seed;
  settings.tta_flip = options.tta == "flip";
  settings.gradcam_images = options.gradcam;
  settings.out_dir = out;
  settings.title = "pneuma eval: " + checkpoint.config.architecture + " on " + fs::path(config.data).filename().string();
  settings.subtitle = "checkpoint " + options.checkpoint;
  settings.configuration_json = json{{"checkpoint", options.checkpoint},
                                     {"split", options.split},
                                     {"tta", options.tta},
                                     {"data", config.to_json()}}
                                    .dump();
  train::evaluate_and_report(inputs, settings);
  if (source.skipped_images() > 0)
    std::fprintf(stderr, "warning: %lld unreadable images were skipped\n",
                 static_cast<long long>(source.skipped_images()));
  return 0;
}

RegisterCommand registration("eval", "Evaluate a checkpoint on a dataset split: metrics.json and report.html",
                             [](CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  app.add_option("checkpoint", options->checkpoint, "a pneuma checkpoint (best.safetensors of a run)")->required();
  app.add_option("--data", options->data, "image folder or CSV (default: the training run's data)");
  app.add_option("--split", options->split, "test | val | train | all (the training run's splits)")
      ->check(CLI::IsMember({"test", "val", "train", "all"}));
  app.add_option("--tta", options->tta, "test-time augmentation: none | flip");
  app.add_option("--out", options->out, "folder for metrics.json and report.html (default: CKPT_DIR/eval-SPLIT)");
  app.add_option("--label-column", options->label_column, "CSV column with the class label");
  app.add_option("--filter", options->filter, "CSV: keep only rows where COLUMN=VALUE");
  app.add_option("--image-root", options->image_root, "CSV: folder the image paths are relative to");
  app.add_option("--batch-size", options->batch_size, "images per batch")->check(CLI::Range(1, 4096));
  app.add_option("--threads", options->threads, "CPU threads (0: all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--bootstrap", options->bootstrap, "bootstrap resamples for the confidence intervals")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--gradcam", options->gradcam, "images shown with a Grad-CAM overlay in the report")
      ->check(CLI::Range(0, 1000));
  app.add_option("--device", options->device, "cpu | cuda | cuda:N (default cpu)");
  app.add_flag("--strict", options->strict, "an unreadable image is an error (default: skipped with a warning)");
  return [options] { return run_eval(*options); };
});

}  // namespace
}  // namespace pneuma::cli
