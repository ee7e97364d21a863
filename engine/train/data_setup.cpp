// Dataset, splits, duplicate check and loader settings of a run (see data_setup.h).
#include "engine/train/data_setup.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "engine/data/class_balance.h"
#include "engine/data/duplicates.h"
#include "engine/data/image.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

namespace fs = std::filesystem;

bool ends_with_csv(const std::string& path) {
  if (path.size() < 4) return false;
  std::string extension = path.substr(path.size() - 4);
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  return extension == ".csv";
}

}  // namespace

std::string dataset_csv_path(const std::string& data) {
  if (ends_with_csv(data)) return data;
  if (fs::is_directory(data) && fs::is_regular_file(fs::path(data) / "labels.csv"))
    return (fs::path(data) / "labels.csv").string();
  return "";
}

data::Dataset load_dataset(const TrainConfig& config) {
  PNEUMA_CHECK(fs::exists(config.data), "data %s does not exist", config.data.c_str());
  const std::string csv = dataset_csv_path(config.data);
  if (csv.empty()) {
    PNEUMA_CHECK(config.filter.empty(), "--filter applies to CSV data only, and %s is an image folder",
                 config.data.c_str());
    data::ImageFolderOptions options;
    options.classes = config.classes;
    return data::load_image_folder(config.data, options);
  }
  data::CsvDatasetOptions options;
  options.file_column = config.file_column;
  options.label_column = config.label_column;
  options.split_column = config.split_column;
  options.classes = config.classes;
  options.image_root = config.image_root;
  if (!config.filter.empty()) {
    const size_t equals = config.filter.find('=');
    options.filter_column = config.filter.substr(0, equals);
    options.filter_value = config.filter.substr(equals + 1);
  }
  return data::load_csv_dataset(csv, options);
}

RunSplits make_run_splits(const data::Dataset& dataset, const TrainConfig& config, int threads) {
  PNEUMA_CHECK(dataset.num_classes() >= 2, "%s has %d class; training needs at least two", dataset.root.c_str(),
               dataset.num_classes());
  data::SplitOptions options;
  options.val_fraction = config.val_fraction;
  options.test_fraction = config.test_fraction;
  options.seed = config.seed;
  options.use_existing_splits = config.use_existing_splits;
  options.group_by = config.group_by;
  RunSplits result;
  result.splits = data::make_splits(dataset, options);
  result.group_by = data::resolve_group_by(dataset, config.group_by);
  result.notes.push_back("splits: " + data::describe_splits(dataset, result.splits));
  result.notes.push_back("grouped by: " + result.group_by + " (no group in two carved splits), seed " +
                         std::to_string(config.seed));
  const std::vector<std::string> shared = data::groups_in_several_splits(dataset, result.splits, result.group_by);
  if (!shared.empty())
    result.notes.push_back(std::to_string(shared.size()) + " " + result.group_by +
                           " keys occur in two predefined splits (kept as the data defines them)");
  if (config.check_duplicates) {
    const data::DuplicateReport report = data::find_cross_split_duplicates(dataset, result.splits,
                                                                           data::kDefaultHammingThreshold, threads);
    result.duplicates_found = static_cast<int64_t>(report.pairs.size());
    if (!report.unreadable.empty()) {
      // The check decoded every image, so unreadable ones are known before any training: with --strict that is
      // the end of the run (decoding the first again gives the decoder's reason), otherwise a counted warning.
      const std::string& first = dataset.samples.at(report.unreadable.front()).path;
      if (config.strict) {
        (void)decode_image(first);  // throws with the reason
        PNEUMA_FAIL("image %s could not be decoded (--strict)", first.c_str());
      }
      std::fprintf(stderr, "warning: %zu unreadable images (e.g. %s) will be skipped (--strict makes this an error)\n",
                   report.unreadable.size(), first.c_str());
      result.notes.push_back(std::to_string(report.unreadable.size()) + " unreadable images skipped");
    }
    if (!report.pairs.empty()) {
      std::string summary = report.summary(dataset, 10);
      if (summary.back() != '\n') summary += '\n';
      std::fprintf(stderr, "warning: %s", summary.c_str());
    }
    if (config.drop_duplicates && !report.pairs.empty()) {
      const size_t before = result.splits.val.size() + result.splits.test.size();
      data::drop_duplicates(result.splits, report);
      result.duplicates_dropped =
          static_cast<int64_t>(before - result.splits.val.size() - result.splits.test.size());
    }
    result.notes.push_back(detail::format_message(
        "duplicate check across splits: %lld exact and %lld near-duplicate pairs, %lld images dropped",
        static_cast<long long>(report.exact_pairs), static_cast<long long>(report.near_pairs),
        static_cast<long long>(result.duplicates_dropped)));
  } else {
    result.notes.push_back("duplicate check across splits: off");
  }
  return result;
}

data::LoaderOptions loader_options(const TrainConfig& config, const data::PreprocessOptions& preprocess, bool training,
                                   int threads) {
  data::LoaderOptions options;
  options.batch_size = config.batch_size;
  options.shuffle = training;
  options.seed = config.seed;
  options.threads = std::max(1, config.workers > 0 ? static_cast<int>(config.workers) : threads);
  options.preprocess = preprocess;
  options.cache_path = config.cache;
  options.balanced_sampling = training && config.balanced_sampling;
  options.strict = config.strict;
  if (training) {
    data::AugmentOptions augment;
    augment.rotation_degrees = config.rotation;
    augment.zoom = config.zoom;
    augment.shift_x = config.shift_x > 0 ? config.shift_x : config.shift;
    augment.shift_y = config.shift_y > 0 ? config.shift_y : config.shift;
    augment.horizontal_flip = config.hflip;
    augment.vertical_flip = config.vflip;
    if (!config.brightness.empty()) {
      augment.brightness_low = config.brightness[0];
      augment.brightness_high = config.brightness[1];
    }
    augment.brightness_delta = config.brightness_delta;
    augment.contrast = config.contrast;
    augment.random_resized_crop = config.random_resized_crop;
    augment.crop_scale_low = config.crop_scale[0];
    augment.crop_scale_high = config.crop_scale[1];
    augment.fill_mode = data::fill_mode_from_name(config.fill_mode);
    augment.validate();
    if (augment.any_geometric() || augment.any_photometric()) options.augment = augment;
  }
  return options;
}

report::DatasetSummary dataset_summary(const data::Dataset& dataset, const RunSplits& splits) {
  report::DatasetSummary summary;
  summary.source = dataset.root;
  summary.class_names = dataset.class_names;
  const std::pair<const char*, const std::vector<size_t>*> parts[] = {
      {"train", &splits.splits.train}, {"val", &splits.splits.val}, {"test", &splits.splits.test}};
  for (const auto& [name, indices] : parts)
    if (!indices->empty()) summary.splits.push_back({name, data::class_counts(dataset, *indices)});
  summary.duplicates = splits.duplicates_dropped;
  summary.notes = splits.notes;
  return summary;
}

std::vector<double> class_weights(const TrainConfig& config, const data::Dataset& dataset,
                                  const std::vector<size_t>& train_indices) {
  if (config.class_weights == "none" || config.class_weights.empty()) return {};
  if (config.class_weights == "auto") return data::balanced_class_weights(dataset, train_indices);
  const nlohmann::json parsed = option_value_from_text({"class-weights", OptionType::number_list, "", "", ""},
                                                       config.class_weights);
  std::vector<double> weights = parsed.get<std::vector<double>>();
  PNEUMA_CHECK(static_cast<int>(weights.size()) == dataset.num_classes(),
               "--class-weights gives %zu weights for %d classes", weights.size(), dataset.num_classes());
  return weights;
}

std::vector<size_t> split_indices(const data::Dataset& dataset, const data::Splits& splits, const std::string& name) {
  if (name == "train") return splits.train;
  if (name == "val") return splits.val;
  if (name == "test") return splits.test;
  PNEUMA_CHECK(name == "all", "unknown split '%s' (train, val, test, all)", name.c_str());
  std::vector<size_t> all(dataset.size());
  std::iota(all.begin(), all.end(), size_t{0});
  return all;
}

}  // namespace pneuma::train
