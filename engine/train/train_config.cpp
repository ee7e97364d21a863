// The option table of `pneuma train` and its JSON form (see train_config.h). One visitor lists every option with
// its member, group and help text; the spec table, from_json and to_json are all derived from it.
#include "engine/train/train_config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "kernels/error.h"

namespace pneuma::train {
namespace {

using json = nlohmann::json;

template <class Config, class Visitor>
void visit_options(Config& c, Visitor&& v) {
  // data
  v("data", c.data, "data", "image folder (root/<class>/..., optionally root/{train,val,test}/<class>/...) or a CSV");
  v("file-column", c.file_column, "data", "CSV column with the image path");
  v("label-column", c.label_column, "data", "CSV column with the class label (e.g. binary_label)");
  v("split-column", c.split_column, "data", "CSV column with a predefined split (train/val/test), used when present");
  v("image-root", c.image_root, "data", "CSV: folder the image paths are relative to (default: the CSV's folder)");
  v("filter", c.filter, "data", "CSV: keep only rows where COLUMN=VALUE");
  v("classes", c.classes, "data", "class names in label order (default: sorted labels)");
  v("val-fraction", c.val_fraction, "data", "validation fraction carved from the training pool (0: none)");
  v("test-fraction", c.test_fraction, "data", "test fraction carved when the data has no test split");
  v("use-existing-splits", c.use_existing_splits, "data", "keep the splits the data defines");
  v("group-by", c.group_by, "data", "keep groups in one split: auto | patient_id | group | none");
  v("check-duplicates", c.check_duplicates, "data", "look for exact and near-duplicate images across splits");
  v("drop-duplicates", c.drop_duplicates, "data", "drop the later-split copy of every duplicate pair");
  v("cache", c.cache, "data", "file caching decoded and resized images between epochs and runs");
  v("strict", c.strict, "data", "an unreadable image is an error (default: skipped with a warning)");
  v("balanced-sampling", c.balanced_sampling, "data", "draw training samples class-uniformly");
  v("class-weights", c.class_weights, "data", "loss class weights: none | auto | w1,w2,...");
  v("workers", c.workers, "data", "data loader threads (0: --threads)");
  // model
  v("arch", c.arch, "model", "architecture (mobilenet_v2, efficientnet_v2_s, efficientnet_b0, ...)");
  v("width", c.width, "model", "width multiplier");
  v("head", c.head, "model", "head spec, e.g. dropout(0.2)-dense(1024,relu)-dense (default: the architecture's)");
  v("sigmoid", c.sigmoid, "model", "one sigmoid output (binary problems): the loss becomes binary cross-entropy/focal");
  v("dropout", c.dropout, "model", "classifier dropout (< 0: the architecture's default)");
  v("drop-path", c.drop_path, "model", "stochastic depth rate (< 0: the architecture's default)");
  v("weights", c.weights, "model", "ImageNet weights to start from (.pth, .safetensors, .h5)");
  v("weights-from", c.weights_from, "model", "layout of --weights: torchvision | timm | keras");
  v("in-channels", c.in_channels, "model", "input channels: 3, or 1 for grayscale (first conv adapted)");
  v("padding", c.padding, "model", "convolution padding: symmetric (PyTorch) | same (TensorFlow)");
  v("resolution", c.resolution, "model", "input height and width in pixels");
  v("normalization", c.normalization, "model", "input scaling: imagenet (torchvision) | minus_one_one (x/127.5 - 1) | zero_one (x/255)");
  v("center-crop", c.center_crop, "model", "central fraction kept before resizing (e.g. 0.875)");
  // optimizer
  v("optimizer", c.optimizer, "optimizer", "sgd | adam | adamw | rmsprop");
  v("lr", c.lr, "optimizer", "learning rate (of phase 1)");
  v("weight-decay", c.weight_decay, "optimizer", "weight decay (L2; decoupled for adamw)");
  v("decay-norms-and-biases", c.decay_norms_and_biases, "optimizer", "also decay norm and bias parameters");
  v("momentum", c.momentum, "optimizer", "momentum (sgd, rmsprop)");
  v("nesterov", c.nesterov, "optimizer", "Nesterov momentum (sgd)");
  v("beta1", c.beta1, "optimizer", "Adam beta1");
  v("beta2", c.beta2, "optimizer", "Adam beta2");
  v("eps", c.eps, "optimizer", "optimizer epsilon (< 0: the optimizer's default)");
  v("schedule", c.schedule, "optimizer", "learning-rate schedule: constant | step | cosine");
  v("schedule-per", c.schedule_per, "optimizer", "advance the schedule every step | epoch");
  v("warmup-epochs", c.warmup_epochs, "optimizer", "cosine: linear warmup length in epochs");
  v("warmup-start-factor", c.warmup_start_factor, "optimizer", "cosine: warmup starts at this fraction of lr");
  v("min-lr", c.min_lr, "optimizer", "cosine: final learning rate");
  v("step-epochs", c.step_epochs, "optimizer", "step: epochs between decays");
  v("gamma", c.gamma, "optimizer", "step: decay factor");
  v("clip-grad-norm", c.clip_grad_norm, "optimizer", "clip the global gradient norm to this (0: off)");
  // loss
  v("loss", c.loss, "loss", "cross-entropy (bce for a 1-output head) | focal");
  v("label-smoothing", c.label_smoothing, "loss", "label smoothing");
  v("focal-alpha", c.focal_alpha, "loss", "binary focal loss alpha (< 0: off)");
  v("focal-gamma", c.focal_gamma, "loss", "focal loss gamma");
  // callbacks
  v("monitor", c.monitor, "callbacks",
    "metric for the best checkpoint, early stopping and plateau: val_loss | val_accuracy | val_auc | val_f1 | "
    "train_loss | train_accuracy");
  v("monitor-mode", c.monitor_mode, "callbacks", "auto | min | max");
  v("early-stopping", c.early_stopping, "callbacks", "stop a phase when the monitor stops improving");
  v("patience", c.patience, "callbacks", "early stopping: epochs without improvement");
  v("min-delta", c.min_delta, "callbacks", "early stopping: smallest change that counts as improvement");
  v("restore-best", c.restore_best, "callbacks", "end with the best checkpoint's weights");
  v("reduce-lr-on-plateau", c.reduce_lr_on_plateau, "callbacks", "multiply the lr when the monitor plateaus");
  v("plateau-factor", c.plateau_factor, "callbacks", "plateau: lr factor");
  v("plateau-patience", c.plateau_patience, "callbacks", "plateau: epochs without improvement");
  v("plateau-cooldown", c.plateau_cooldown, "callbacks", "plateau: epochs to wait after a reduction");
  v("plateau-min-lr", c.plateau_min_lr, "callbacks", "plateau: lower bound of the lr");
  v("plateau-min-delta", c.plateau_min_delta, "callbacks", "plateau: smallest improvement (absolute)");
  v("ema-decay", c.ema_decay, "callbacks", "weight EMA decay (0: off); validation and checkpoints use the average");
  // phases
  v("epochs", c.epochs, "phases", "epochs of phase 1");
  v("freeze-backbone", c.freeze_backbone, "phases", "phase 1 trains the head only (frozen base)");
  v("frozen-batch-norm", c.frozen_batch_norm, "phases",
    "phase 1 keeps every BatchNorm on its running statistics while the rest trains (for weights whose BatchNorms "
    "were folded into biases, such as the TF-slim MobileNetV2: batch statistics would destroy them)");
  v("fine-tune-epochs", c.fine_tune_epochs, "phases", "epochs of phase 2, which unfreezes layers (0: no phase 2)");
  v("fine-tune-lr", c.fine_tune_lr, "phases", "learning rate of phase 2");
  v("unfreeze-top", c.unfreeze_top, "phases", "phase 2 unfreezes the top K layers (< 0: the whole model)");
  v("fine-tune-batch-norm", c.fine_tune_batch_norm, "phases",
    "phase 2 normalises unfrozen BatchNorms with batch statistics (default: every BatchNorm stays on its running "
    "statistics, Keras' fine-tuning advice; its scale and shift still train)");
  // augmentation
  v("rotation", c.rotation, "augmentation", "random rotation in [-deg, deg]");
  v("zoom", c.zoom, "augmentation", "random zoom in [1 - z, 1 + z]");
  v("shift", c.shift, "augmentation", "random shift in both directions, as a fraction of the size");
  v("shift-x", c.shift_x, "augmentation", "random horizontal shift (overrides --shift)");
  v("shift-y", c.shift_y, "augmentation", "random vertical shift (overrides --shift)");
  v("hflip", c.hflip, "augmentation", "random horizontal flips");
  v("vflip", c.vflip, "augmentation", "random vertical flips");
  v("brightness", c.brightness, "augmentation", "multiplicative brightness range LOW,HIGH (e.g. 0.8,1)");
  v("brightness-delta", c.brightness_delta, "augmentation", "additive brightness in [-d, d] of the full range");
  v("contrast", c.contrast, "augmentation", "random contrast factor in [1 - c, 1 + c]");
  v("random-resized-crop", c.random_resized_crop, "augmentation", "torchvision's RandomResizedCrop");
  v("crop-scale", c.crop_scale, "augmentation", "random resized crop area range LOW,HIGH");
  v("fill-mode", c.fill_mode, "augmentation", "outside pixels: nearest | constant | reflect | wrap");
  // run
  v("batch-size", c.batch_size, "run", "images per batch");
  v("threads", c.threads, "run", "CPU threads (0: all cores)");
  v("seed", c.seed, "run", "seed of initialisation, data order, augmentation and splits");
  v("out", c.out, "run", "run folder for checkpoints, history, metrics and report");
  v("device", c.device, "run", "cpu | cuda | cuda:N");
  v("checkpoint-every", c.checkpoint_every, "run", "also save last.safetensors every N batches (0: epoch ends)");
  v("bootstrap", c.bootstrap, "run", "bootstrap resamples for the test metrics' confidence intervals");
  v("gradcam", c.gradcam, "run", "test images shown with a Grad-CAM overlay in the report");
  v("tta-flip", c.tta_flip, "run", "average each test image's prediction with its mirror image's");
}

template <class T>
OptionType option_type();
template <> OptionType option_type<std::string>() { return OptionType::text; }
template <> OptionType option_type<int64_t>() { return OptionType::integer; }
template <> OptionType option_type<uint64_t>() { return OptionType::integer; }
template <> OptionType option_type<double>() { return OptionType::number; }
template <> OptionType option_type<bool>() { return OptionType::flag; }
template <> OptionType option_type<std::vector<std::string>>() { return OptionType::text_list; }
template <> OptionType option_type<std::vector<double>>() { return OptionType::number_list; }

std::string default_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string text;
    for (const json& item : value) text += (text.empty() ? "" : ",") + (item.is_string() ? item.get<std::string>() : item.dump());
    return text;
  }
  return value.dump();
}

std::string normalise_key(std::string key) {
  for (char& c : key)
    if (c == '_') c = '-';
  return key;
}

// Reads `value` into `field`, naming the option in the error.
template <class T>
void read_field(const std::string& name, const json& value, T& field) {
  const char* expected = "";
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      expected = "a string";
      field = value.get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      expected = "true or false";
      field = value.get<bool>();
    } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
      expected = "an integer";
      PNEUMA_CHECK(value.is_number_integer() || (value.is_number() && std::floor(value.get<double>()) == value.get<double>()),
                   "option '%s' must be an integer, got %s", name.c_str(), value.dump().c_str());
      if constexpr (std::is_same_v<T, uint64_t>)
        PNEUMA_CHECK(!(value.is_number_integer() && value.get<int64_t>() < 0) && value.get<double>() >= 0,
                     "option '%s' must be a non-negative integer, got %s", name.c_str(), value.dump().c_str());
      field = value.is_number_integer() ? value.get<T>() : static_cast<T>(value.get<double>());
    } else if constexpr (std::is_same_v<T, double>) {
      expected = "a number";
      PNEUMA_CHECK(value.is_number(), "option '%s' must be a number, got %s", name.c_str(), value.dump().c_str());
      field = value.get<double>();
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      expected = "a list of strings";
      field = value.is_string() ? std::vector<std::string>{value.get<std::string>()}
                                : value.get<std::vector<std::string>>();
    } else {
      expected = "a list of numbers";
      field = value.get<std::vector<double>>();
    }
  } catch (const json::exception&) {
    PNEUMA_FAIL("option '%s' must be %s, got %s", name.c_str(), expected, value.dump().c_str());
  }
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    const size_t begin = part.find_first_not_of(" \t"), end = part.find_last_not_of(" \t");
    parts.push_back(begin == std::string::npos ? "" : part.substr(begin, end - begin + 1));
  }
  return parts;
}

double parse_number(const std::string& name, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  PNEUMA_CHECK(used == text.size() && !text.empty() && std::isfinite(value), "option --%s: '%s' is not a number",
               name.c_str(), text.c_str());
  return value;
}

}  // namespace

const std::vector<OptionSpec>& train_option_specs() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> list;
    TrainConfig defaults;
    const json values = defaults.to_json();
    visit_options(defaults, [&](const char* name, auto& field, const char* group, const char* help) {
      list.push_back({name, option_type<std::decay_t<decltype(field)>>(), group, help, default_text(values.at(name))});
    });
    return list;
  }();
  return specs;
}

TrainConfig TrainConfig::from_json(const json& options) {
  PNEUMA_CHECK(options.is_object(), "options must be a JSON object, got %s", options.type_name());
  TrainConfig config;
  std::set<std::string> known;
  visit_options(config, [&](const char* name, auto& field, const char*, const char*) {
    known.insert(name);
    if (options.contains(name)) read_field(name, options.at(name), field);
  });
  for (const auto& [key, value] : options.items())
    PNEUMA_CHECK(known.count(key), "unknown option '%s'", key.c_str());
  return config;
}

json TrainConfig::to_json() const {
  json options = json::object();
  visit_options(const_cast<TrainConfig&>(*this),
                [&](const char* name, auto& field, const char*, const char*) { options[name] = field; });
  return options;
}

void TrainConfig::validate() const {
  PNEUMA_CHECK(!data.empty(), "no data given (--data FOLDER or --data labels.csv)");
  PNEUMA_CHECK(!out.empty(), "no run folder given (--out RUN_DIR)");
  PNEUMA_CHECK(val_fraction >= 0 && val_fraction < 1 && test_fraction >= 0 && test_fraction < 1 &&
                   val_fraction + test_fraction < 1,
               "--val-fraction and --test-fraction must be in [0, 1) with a sum below 1 (got %g and %g)",
               val_fraction, test_fraction);
  PNEUMA_CHECK(width > 0, "--width must be > 0, got %g", width);
  PNEUMA_CHECK(in_channels == 1 || in_channels == 3, "--in-channels must be 1 or 3, got %lld",
               static_cast<long long>(in_channels));
  PNEUMA_CHECK(padding == "symmetric" || padding == "same", "--padding must be symmetric or same, got '%s'",
               padding.c_str());
  PNEUMA_CHECK(resolution >= 8 && resolution <= 4096, "--resolution must be in [8, 4096], got %lld",
               static_cast<long long>(resolution));
  PNEUMA_CHECK(normalization == "imagenet" || normalization == "minus_one_one" || normalization == "zero_one",
               "--normalization must be imagenet, minus_one_one or zero_one, got '%s'", normalization.c_str());
  PNEUMA_CHECK(center_crop > 0 && center_crop <= 1, "--center-crop must be in (0, 1], got %g", center_crop);
  PNEUMA_CHECK(weights_from == "torchvision" || weights_from == "timm" || weights_from == "keras",
               "--weights-from must be torchvision, timm or keras, got '%s'", weights_from.c_str());
  PNEUMA_CHECK(schedule_per == "step" || schedule_per == "epoch", "--schedule-per must be step or epoch, got '%s'",
               schedule_per.c_str());
  PNEUMA_CHECK(epochs >= 1, "--epochs must be at least 1, got %lld", static_cast<long long>(epochs));
  PNEUMA_CHECK(fine_tune_epochs >= 0, "--fine-tune-epochs must be >= 0");
  PNEUMA_CHECK(fine_tune_epochs == 0 || fine_tune_lr > 0, "--fine-tune-lr must be > 0, got %g", fine_tune_lr);
  PNEUMA_CHECK(batch_size >= 1, "--batch-size must be at least 1, got %lld", static_cast<long long>(batch_size));
  PNEUMA_CHECK(threads >= 0 && workers >= 0, "--threads and --workers must be >= 0");
  PNEUMA_CHECK(brightness.empty() || (brightness.size() == 2 && brightness[0] <= brightness[1] && brightness[0] >= 0),
               "--brightness takes LOW,HIGH with 0 <= LOW <= HIGH");
  PNEUMA_CHECK(crop_scale.size() == 2 && crop_scale[0] > 0 && crop_scale[0] <= crop_scale[1] && crop_scale[1] <= 1,
               "--crop-scale takes LOW,HIGH with 0 < LOW <= HIGH <= 1");
  PNEUMA_CHECK(ema_decay >= 0 && ema_decay < 1, "--ema-decay must be in [0, 1), got %g", ema_decay);
  PNEUMA_CHECK(bootstrap >= 0 && gradcam >= 0 && checkpoint_every >= 0,
               "--bootstrap, --gradcam and --checkpoint-every must be >= 0");
  PNEUMA_CHECK(filter.empty() || filter.find('=') != std::string::npos, "--filter takes COLUMN=VALUE, got '%s'",
               filter.c_str());
}

json read_recipe(const std::string& path) {
  std::ifstream file(path);
  PNEUMA_CHECK(file.good(), "cannot read recipe %s", path.c_str());
  json recipe;
  try {
    recipe = json::parse(file, nullptr, true, true);  // comments allowed
  } catch (const json::exception& error) {
    PNEUMA_FAIL("recipe %s is not valid JSON: %s", path.c_str(), error.what());
  }
  PNEUMA_CHECK(recipe.is_object(), "recipe %s must be a JSON object of options", path.c_str());
  json normalised = json::object();
  for (const auto& [key, value] : recipe.items()) {
    if (key.rfind("//", 0) == 0 || key == "comment" || key == "description") continue;  // documentation keys
    normalised[normalise_key(key)] = value;
  }
  try {
    TrainConfig::from_json(normalised);
  } catch (const Error& error) {
    PNEUMA_FAIL("recipe %s: %s", path.c_str(), error.what());
  }
  return normalised;
}

json merge_options(json base, const json& overrides) {
  for (const auto& [key, value] : overrides.items()) base[key] = value;
  return base;
}

json option_value_from_text(const OptionSpec& spec, const std::string& text) {
  switch (spec.type) {
    case OptionType::text:
      return text;
    case OptionType::flag:
      if (text == "true" || text == "1" || text.empty()) return true;
      if (text == "false" || text == "0") return false;
      PNEUMA_FAIL("option --%s takes true or false, got '%s'", spec.name.c_str(), text.c_str());
    case OptionType::integer: {
      const double value = parse_number(spec.name, text);
      PNEUMA_CHECK(std::floor(value) == value, "option --%s: '%s' is not an integer", spec.name.c_str(), text.c_str());
      return static_cast<int64_t>(value);
    }
    case OptionType::number:
      return parse_number(spec.name, text);
    case OptionType::text_list:
      return split_commas(text);
    case OptionType::number_list: {
      json list = json::array();
      for (const std::string& part : split_commas(text)) list.push_back(parse_number(spec.name, part));
      return list;
    }
  }
  PNEUMA_FAIL("option --%s: unknown type", spec.name.c_str());
}

}  // namespace pneuma::train
