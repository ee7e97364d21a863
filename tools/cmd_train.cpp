// `pneuma train`: fine-tune or train an image classifier on a folder or CSV of images, end to end — data and
// splits (stratified, grouped by patient, duplicate-checked), the model (any registered architecture, a head spec,
// ImageNet weights, grayscale input), one or two phases (frozen base, then the top layers unfrozen), the training
// loop with its callbacks and checkpoints (engine/train/trainer.h), and at the end the best model evaluated on the
// test split: metrics.json, report.html with Grad-CAM overlays, and the per-class recall printed with its interval.
//
// Options come from a recipe (--recipe FILE, a JSON object of the same options) and the command line, which
// overrides it; see engine/train/train_config.h for the full list. The run folder (--out) receives options.json,
// best.safetensors, last.safetensors, history.csv/json, metrics.json and report.html. `--resume` continues the run
// in --out from last.safetensors with its saved options (flags given with it override them).
//
// `--device cuda` (or cuda:N) trains on the GPU: the model is moved there before the trainer starts, and the
// trainer, the evaluation and Grad-CAM follow it (engine/train/training_device.h); checkpoints are the same files on
// every device, so a run can be resumed with another --device.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "engine/nn/batch_norm2d.h"
#include "engine/safetensors.h"
#include "engine/train/data_setup.h"
#include "engine/train/evaluation.h"
#include "engine/train/loader_batch_source.h"
#include "engine/train/output_directory.h"
#include "engine/train/train_config.h"
#include "engine/train/trainer.h"
#include "engine/train/training_device.h"
#include "engine/report/atomic_file.h"
#include "kernels/error.h"
#include "kernels/parallel.h"
#include "models/freezing.h"
#include "models/grayscale.h"
#include "models/registry.h"
#include "tools/command.h"
#include "weights_import/load_weights.h"
#include "weights_import/model_checkpoint.h"
#include "weights_import/preprocess.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct TrainArguments {
  std::map<std::string, std::string> texts;  // text, number and list options as typed
  std::map<std::string, bool> flags;
  std::map<std::string, CLI::Option*> given;
  std::string recipe;
  bool resume = false;
};

// The options given on the command line, as JSON values.
json command_line_options(const TrainArguments& arguments) {
  json options = json::object();
  for (const train::OptionSpec& spec : train::train_option_specs()) {
    const CLI::Option* option = arguments.given.at(spec.name);
    if (option->count() == 0) continue;
    options[spec.name] = spec.type == train::OptionType::flag ? json(arguments.flags.at(spec.name))
                                                              : train::option_value_from_text(spec, arguments.texts.at(spec.name));
  }
  return options;
}

train::TrainConfig resolve_config(const TrainArguments& arguments) {
  const json given = command_line_options(arguments);
  json base = json::object();
  if (arguments.resume) {
    PNEUMA_CHECK(given.contains("out"), "--resume needs --out RUN_DIR, the run to continue");
    const std::string saved = (fs::path(given.at("out").get<std::string>()) / "options.json").string();
    PNEUMA_CHECK(fs::exists(saved), "%s not found: --out does not name a pneuma training run", saved.c_str());
    base = train::read_recipe(saved);
  } else if (!arguments.recipe.empty()) {
    base = train::read_recipe(arguments.recipe);
  }
  train::TrainConfig config = train::TrainConfig::from_json(train::merge_options(base, given));
  config.validate();
  return config;
}

void keep_batch_norms_on_running_statistics(nn::Module& model) {
  model.apply([](const std::string&, nn::Module& layer) {
    if (auto* norm = dynamic_cast<nn::BatchNorm2d*>(&layer)) norm->set_frozen(true);
  });
}

// True when every BatchNorm of the model has running mean 0 and variance ~1: weights whose BatchNorms were folded
// into the convolutions' biases (the TF-slim MobileNetV2 release). Batch statistics would rescale activations
// that were never normalised, and the folded biases then saturate the ReLU6s: training learns nothing.
bool batch_norms_look_folded(nn::Module& model) {
  bool any = false, folded = true;
  model.apply([&](const std::string&, nn::Module& layer) {
    auto* norm = dynamic_cast<nn::BatchNorm2d*>(&layer);
    if (norm == nullptr || !folded) return;
    any = true;
    for (float mean : norm->running_mean().to(Device::cpu()).to_vector<float>()) folded = folded && mean == 0;
    for (float var : norm->running_var().to(Device::cpu()).to_vector<float>()) folded = folded && std::abs(var - 1) < 1e-3f;
  });
  return any && folded;
}

// The two phases of the config: [frozen base or whole model] then, with fine-tune epochs, the top layers.
std::vector<train::TrainPhase> make_phases(const train::TrainConfig& config) {
  train::TrainPhase first;
  first.name = config.freeze_backbone ? "frozen" : "train";
  first.epochs = config.epochs;
  first.optimizer.kind = config.optimizer;
  first.optimizer.learning_rate = config.lr;
  first.optimizer.weight_decay = config.weight_decay;
  first.optimizer.no_weight_decay_on_norms_and_biases = !config.decay_norms_and_biases;
  first.optimizer.momentum = config.momentum;
  first.optimizer.nesterov = config.nesterov;
  first.optimizer.beta1 = config.beta1;
  first.optimizer.beta2 = config.beta2;
  first.optimizer.eps = config.eps;
  first.schedule.kind = config.schedule;
  first.schedule.per_epoch = config.schedule_per == "epoch";
  first.schedule.warmup_epochs = config.warmup_epochs;
  first.schedule.warmup_start_factor = config.warmup_start_factor;
  first.schedule.min_lr = config.min_lr;
  first.schedule.step_epochs = config.step_epochs;
  first.schedule.gamma = config.gamma;
  const bool freeze = config.freeze_backbone, running_statistics = config.frozen_batch_norm;
  first.prepare = [freeze, running_statistics](nn::Module& module) {
    auto& model = dynamic_cast<models::ImageClassifier&>(module);
    model.unfreeze();
    if (freeze) models::freeze_backbone(model);
    if (running_statistics) keep_batch_norms_on_running_statistics(model);
  };
  std::vector<train::TrainPhase> phases = {first};
  if (config.fine_tune_epochs > 0) {
    train::TrainPhase second = first;
    second.name = "fine-tune";
    second.epochs = config.fine_tune_epochs;
    second.optimizer.learning_rate = config.fine_tune_lr;
    const int64_t top = config.unfreeze_top;
    const bool batch_statistics = config.fine_tune_batch_norm;
    second.prepare = [top, batch_statistics](nn::Module& module) {
      auto& model = dynamic_cast<models::ImageClassifier&>(module);
      model.unfreeze();
      if (top >= 0) models::unfreeze_top_layers(model, top);
      if (!batch_statistics) keep_batch_norms_on_running_statistics(model);
    };
    phases.push_back(second);
  }
  return phases;
}

train::TrainerOptions trainer_options(const train::TrainConfig& config, const std::vector<double>& weights,
                                      const std::vector<std::string>& class_names) {
  train::TrainerOptions options;
  options.phases = make_phases(config);
  options.loss.kind = train::parse_loss_kind(config.loss);
  options.loss.class_weights = weights;
  options.loss.label_smoothing = config.label_smoothing;
  options.loss.focal_alpha = config.focal_alpha;
  options.loss.focal_gamma = config.focal_gamma;
  options.clip_grad_norm = config.clip_grad_norm;
  options.monitor = config.monitor;
  options.monitor_mode = config.monitor_mode;
  options.early_stopping.enabled = config.early_stopping;
  options.early_stopping.patience = config.patience;
  options.early_stopping.min_delta = config.min_delta;
  options.restore_best = config.restore_best;
  options.plateau.enabled = config.reduce_lr_on_plateau;
  options.plateau.factor = config.plateau_factor;
  options.plateau.patience = config.plateau_patience;
  options.plateau.cooldown = config.plateau_cooldown;
  options.plateau.min_lr = config.plateau_min_lr;
  options.plateau.min_delta = config.plateau_min_delta;
  options.ema_decay = config.ema_decay;
  options.checkpoint_every = config.checkpoint_every;
  options.out_dir = config.out;
  options.class_names = class_names;
  options.checkpoint_metadata = {{"pneuma.train_config", config.to_json().dump()}};
  return options;
}

models::ModelConfig make_model_config(const train::TrainConfig& config, int64_t classes) {
  models::ModelConfig model;
  model.architecture = config.arch;
  model.classes = config.sigmoid ? 1 : classes;
  model.in_channels = config.in_channels;
  model.width_multiplier = config.width;
  model.padding = config.padding;
  model.layout = config.weights_from;
  model.dropout = config.dropout;
  model.drop_path_rate = config.drop_path;
  model.head = config.head;
  return model;
}

// The model of the run: freshly initialised from `generator`, or starting from ImageNet weights (built for RGB
// and adapted to grayscale afterwards when the run takes one channel). The classifier is kept from the weights
// only when it fits (same class count and head); otherwise it stays freshly initialised. A resumed run skips the
// weights: its checkpoint overwrites every tensor.
std::shared_ptr<models::ImageClassifier> build_model(const train::TrainConfig& config, const models::ModelConfig& model_config,
                                                     Generator& generator, bool resuming) {
  if (resuming) return models::create_model(model_config, generator);
  models::ModelConfig build = model_config;
  const bool adapt_to_gray = !config.weights.empty() && config.in_channels == 1;
  if (adapt_to_gray) build.in_channels = 3;
  std::shared_ptr<models::ImageClassifier> model = models::create_model(build, generator);
  if (!config.weights.empty()) {
    weights_import::LoadOptions load;
    load.source = weights_import::weight_source_from_name(config.weights_from);
    load.classifier_mismatch = weights_import::ClassifierMismatch::drop;
    const weights_import::LoadReport report =
        weights_import::load_weights(*model, weights_import::read_tensor_archive(config.weights), load);
    std::fprintf(stderr, "weights: %lld tensors from %s (%s layout)%s\n", static_cast<long long>(report.loaded),
                 config.weights.c_str(), config.weights_from.c_str(),
                 report.classifier_kept.empty() ? "" : ", classifier freshly initialised");
  }
  if (adapt_to_gray) models::adapt_first_conv_to_grayscale(*model);
  if (!config.weights.empty() && !config.freeze_backbone && !config.frozen_batch_norm && batch_norms_look_folded(*model))
    std::fprintf(stderr,
                 "warning: every BatchNorm of %s has running mean 0 and variance 1 (folded into the biases); training "
                 "the whole model with batch statistics will erase what the weights know: add --frozen-batch-norm\n",
                 config.weights.c_str());
  return model;
}

// The class names a checkpoint was trained on (its "classes" metadata).
std::vector<std::string> checkpoint_classes(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  auto found = file.metadata.find("classes");
  PNEUMA_CHECK(found != file.metadata.end(), "%s has no class names in its metadata", path.c_str());
  return json::parse(found->second).get<std::vector<std::string>>();
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return "[" + text + "]";
}

const char* type_name(train::OptionType type) {
  switch (type) {
    case train::OptionType::integer: return "INT";
    case train::OptionType::number: return "NUMBER";
    case train::OptionType::text_list: return "A,B,...";
    case train::OptionType::number_list: return "X,Y";
    default: return "TEXT";
  }
}

int run_train(const TrainArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  const train::TrainConfig config = resolve_config(arguments);
  const Device device = train::training_device(config.device);
  if (config.threads > 0) kernels::set_max_threads(static_cast<int>(config.threads));
  const int threads = kernels::max_threads();

  train::prepare_output_directory(config.out);
  const fs::path out(config.out);
  const std::string last = (out / train::Trainer::last_checkpoint_name()).string();
  if (arguments.resume)
    PNEUMA_CHECK(fs::exists(last), "%s not found: the run in %s has no checkpoint to resume from", last.c_str(),
                 config.out.c_str());
  else
    PNEUMA_CHECK(!fs::exists(last),
                 "%s already holds a training run (last.safetensors): continue it with --resume, or choose another "
                 "--out",
                 config.out.c_str());

  // Data.
  if (!config.cache.empty() && fs::path(config.cache).has_parent_path())
    fs::create_directories(fs::path(config.cache).parent_path());
  const data::Dataset dataset = train::load_dataset(config);
  const train::RunSplits splits = train::make_run_splits(dataset, config, threads);
  for (const std::string& note : splits.notes) std::fprintf(stderr, "%s\n", note.c_str());
  PNEUMA_CHECK(!config.sigmoid || dataset.num_classes() == 2, "a 1-output sigmoid head needs 2 classes, the data has %d",
               dataset.num_classes());
  const std::vector<double> weights = train::class_weights(config, dataset, splits.splits.train);
  if (arguments.resume) {
    const std::vector<std::string> trained = checkpoint_classes(last);
    PNEUMA_CHECK(trained == dataset.class_names, "%s was trained on the classes %s, but the data has %s",
                 last.c_str(), join(trained).c_str(), join(dataset.class_names).c_str());
  }

  // Model.
  manual_seed(config.seed);
  Generator init(config.seed);
  const models::ModelConfig model_config = make_model_config(config, dataset.num_classes());
  std::shared_ptr<models::ImageClassifier> model = build_model(config, model_config, init, arguments.resume);
  const weights_import::Normalization normalization = weights_import::Normalization::preset(
      config.normalization, static_cast<int>(config.in_channels), static_cast<int>(config.resolution),
      config.center_crop);
  const data::PreprocessOptions preprocess = normalization.preprocess_options();
  model->to(device);  // before the trainer: its optimizers and weight EMA are created where the weights are
  std::fprintf(stderr, "model: %s, %lld parameters, input %lldx%lldx%lld (%s), on %s\n", config.arch.c_str(),
               static_cast<long long>(model->parameter_count()), static_cast<long long>(config.resolution),
               static_cast<long long>(config.resolution), static_cast<long long>(config.in_channels),
               config.normalization.c_str(), device.name().c_str());

  const json resolved = config.to_json();
  write_file_atomically((out / "options.json").string(), resolved.dump(2) + "\n", "options");

  // Training.
  train::LoaderBatchSource train_source(dataset, splits.splits.train, train::loader_options(config, preprocess, true, threads));
  std::unique_ptr<train::LoaderBatchSource> val_source;
  if (!splits.splits.val.empty())
    val_source = std::make_unique<train::LoaderBatchSource>(dataset, splits.splits.val,
                                                            train::loader_options(config, preprocess, false, threads));
  train::TrainerOptions options = trainer_options(config, weights, dataset.class_names);
  options.checkpoint_writer = [&](const std::string& path, const std::vector<NamedTensor>& train_state,
                                  const std::map<std::string, std::string>& metadata) {
    weights_import::save_model_checkpoint(path, *model, model_config, dataset.class_names, normalization, metadata,
                                          train_state);
  };
  train::Trainer trainer(*model, train_source, val_source.get(), std::move(options));
  if (arguments.resume) trainer.resume(last);
  const train::TrainResult result = trainer.fit();
  if (train_source.skipped_images() > 0)
    std::fprintf(stderr, "warning: %lld unreadable training images were skipped\n",
                 static_cast<long long>(train_source.skipped_images()));

  // Evaluation of the best model on the test split (the validation split when there is no test split).
  const bool has_test = !splits.splits.test.empty();
  const std::string split_name = has_test ? "test" : "val";
  const std::vector<size_t>& evaluated = has_test ? splits.splits.test : splits.splits.val;
  if (evaluated.empty()) {
    std::printf("no test or validation split: skipping the final evaluation\n");
    return 0;
  }
  if (result.has_best) {
    const SafetensorsFile best = read_safetensors(result.best_checkpoint);
    for (auto& [name, tensor] : model->named_tensors()) {
      Tensor destination = tensor;
      destination.copy_from(best.at(name));
    }
  }
  train::LoaderBatchSource evaluation_source(dataset, evaluated, train::loader_options(config, preprocess, false, threads));
  train::EvaluationInputs inputs;
  inputs.model = model.get();
  inputs.grad_cam = {[model](const Tensor& images) { return model->features(images); },
                     [model](const Tensor& features) { return model->classify(features); }};
  inputs.source = &evaluation_source;
  inputs.dataset = &dataset;
  inputs.preprocess = preprocess;
  inputs.class_names = dataset.class_names;
  inputs.history = &result.history;
  inputs.dataset_summary = train::dataset_summary(dataset, splits);
  train::EvaluationSettings settings;
  settings.split_name = split_name;
  settings.bootstrap = config.bootstrap;
  settings.seed = config.seed;
  settings.tta_flip = config.tta_flip;
  settings.gradcam_images = config.gradcam;
  settings.out_dir = config.out;
  settings.title = "pneuma train: " + config.arch + " on " + fs::path(config.data).filename().string();
  settings.subtitle = detail::format_message("best epoch %lld of %zu (%s %.4f), checkpoint %s",
                                             static_cast<long long>(result.best_epoch), result.history.epochs.size(),
                                             config.monitor.c_str(), result.best_value,
                                             result.best_checkpoint.c_str());
  settings.configuration_json = resolved.dump();
  std::printf("evaluating the best model (epoch %lld) on the %s split\n", static_cast<long long>(result.best_epoch),
              split_name.c_str());
  train::evaluate_and_report(inputs, settings);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("pneuma train: done in %s; run folder %s\n", train::format_duration(seconds).c_str(),
              config.out.c_str());
  return 0;
}

RegisterCommand registration("train", "Train or fine-tune an image classifier and evaluate it", [](CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  app.add_option("--recipe", arguments->recipe, "JSON file of options (command-line flags override it)");
  app.add_flag("--resume", arguments->resume, "continue the run in --out from its last.safetensors");
  for (const train::OptionSpec& spec : train::train_option_specs()) {
    const std::string flag = "--" + spec.name;
    const std::string help = spec.help + (spec.default_text.empty() ? "" : " [default " + spec.default_text + "]");
    CLI::Option* option = spec.type == train::OptionType::flag
                              ? app.add_flag(flag, arguments->flags[spec.name], help)
                              : app.add_option(flag, arguments->texts[spec.name], help);
    option->group(spec.group)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last one wins
    if (spec.type != train::OptionType::flag) option->type_name(type_name(spec.type));
    arguments->given[spec.name] = option;
  }
  return [arguments] { return run_train(*arguments); };
});

}  // namespace
}  // namespace pneuma::cli
