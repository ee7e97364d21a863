// Every option of `pneuma train`, in one table that serves the command line, recipe files and the run folder's
// options.json alike. A recipe is a JSON object whose keys are the long option names (`"batch-size": 32`;
// underscores are accepted for dashes); command-line flags override the recipe, and the resolved configuration is
// saved in the run folder and in every checkpoint, so `--resume` and `pneuma eval` see exactly what the run used.
// Relative paths in a recipe are taken relative to the current directory (run recipes from the repository root).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pneuma::train {

enum class OptionType { text, integer, number, flag, text_list, number_list };

struct OptionSpec {
  std::string name;  // long option name without the dashes; also the recipe key
  OptionType type;
  std::string group;  // for --help: data, model, optimizer, loss, callbacks, phases, augmentation, run
  std::string help;
  std::string default_text;  // the default, as it would be typed
};

const std::vector<OptionSpec>& train_option_specs();

struct TrainConfig {
  // ---- data ----
  std::string data;  // image folder, or a CSV file
  std::string file_column = "file", label_column = "label", split_column = "split";
  std::string image_root;                // CSV: folder the file column is relative to ("" = the CSV's folder)
  std::string filter;                    // CSV: "column=value" keeps only matching rows
  std::vector<std::string> classes;      // class order (and subset for CSVs); empty = sorted labels
  double val_fraction = 0.1, test_fraction = 0.0;
  bool use_existing_splits = true;
  std::string group_by = "auto";
  bool check_duplicates = true, drop_duplicates = false;
  std::string cache;  // decoded-image cache file ("" = none)
  bool strict = false;
  bool balanced_sampling = false;
  std::string class_weights = "none";  // none | auto | w1,w2,...
  int64_t workers = 0;                 // loader threads (0 = --threads)
  // ---- model ----
  std::string arch = "mobilenet_v2";
  double width = 1.0;
  std::string head;          // head spec ("" = the architecture's classifier)
  bool sigmoid = false;      // one sigmoid output for a two-class problem instead of two softmax outputs
  double dropout = -1;       // < 0: the architecture's default
  double drop_path = -1;     // < 0: the architecture's default
  std::string weights;       // ImageNet weights (.pth / .safetensors / .h5) to start from
  std::string weights_from = "torchvision";  // torchvision | timm | keras
  int64_t in_channels = 3;   // 1: grayscale input (first conv adapted from RGB weights)
  std::string padding = "symmetric";         // symmetric | same
  int64_t resolution = 224;
  std::string normalization = "imagenet";    // imagenet | minus_one_one | zero_one (x / 255)
  double center_crop = 1.0;
  // ---- optimizer and schedule ----
  std::string optimizer = "adam";
  double lr = 1e-3, weight_decay = 0, momentum = 0;
  bool nesterov = false, decay_norms_and_biases = false;
  double beta1 = 0.9, beta2 = 0.999, eps = -1;
  std::string schedule = "constant";
  std::string schedule_per = "step";  // step | epoch
  double warmup_epochs = 0, warmup_start_factor = 0, min_lr = 0, step_epochs = 10, gamma = 0.1;
  double clip_grad_norm = 0;
  // ---- loss ----
  std::string loss = "cross-entropy";
  double label_smoothing = 0, focal_alpha = 0.25, focal_gamma = 2;
  // ---- callbacks ----
  std::string monitor = "val_loss", monitor_mode = "auto";
  bool early_stopping = false;
  int64_t patience = 5;
  double min_delta = 0;
  bool restore_best = true;
  bool reduce_lr_on_plateau = false;
  double plateau_factor = 0.1;
  int64_t plateau_patience = 10, plateau_cooldown = 0;
  double plateau_min_lr = 0, plateau_min_delta = 1e-4;
  double ema_decay = 0;
  // ---- phases ----
  int64_t epochs = 10;
  bool freeze_backbone = false;  // phase 1 trains the head only
  bool frozen_batch_norm = false;  // phase 1 keeps every BatchNorm on its running statistics (scale/shift train)
  int64_t fine_tune_epochs = 0;  // > 0 adds phase 2: unfreeze, at fine_tune_lr
  double fine_tune_lr = 1e-5;
  int64_t unfreeze_top = -1;     // phase 2 unfreezes the top K layers (< 0: all)
  bool fine_tune_batch_norm = false;  // phase 2 lets unfrozen BatchNorms use batch statistics (default: frozen)
  // ---- augmentation ----
  double rotation = 0, zoom = 0, shift = 0, shift_x = 0, shift_y = 0;
  bool hflip = false, vflip = false;
  std::vector<double> brightness;  // [low, high] multiplicative range; empty = off
  double brightness_delta = 0, contrast = 0;
  bool random_resized_crop = false;
  std::vector<double> crop_scale = {0.08, 1.0};
  std::string fill_mode = "nearest";
  // ---- run ----
  int64_t batch_size = 32;
  int64_t threads = 0;  // 0: all cores
  uint64_t seed = 0;
  std::string out;
  std::string device = "cpu";
  int64_t checkpoint_every = 0;
  int64_t bootstrap = 1000;  // resamples for the test metrics' confidence intervals
  int64_t gradcam = 4;       // test images with a Grad-CAM overlay in the report
  bool tta_flip = false;     // flip test-time augmentation in the final evaluation

  static TrainConfig from_json(const nlohmann::json& json);  // unknown keys and wrong types are errors
  nlohmann::json to_json() const;
  void validate() const;
};

// Reads a recipe file (a JSON object of options). Keys are normalised to dashes.
nlohmann::json read_recipe(const std::string& path);
// `overrides` replaces keys of `base` (both objects of options).
nlohmann::json merge_options(nlohmann::json base, const nlohmann::json& overrides);
// Parses a command-line value of the given option into JSON ("1,2" → [1, 2] for lists, "true" for flags...).
nlohmann::json option_value_from_text(const OptionSpec& spec, const std::string& text);

}  // namespace pneuma::train
