// From a TrainConfig to the data a run uses: the dataset (an image folder, a CSV, or a folder holding labels.csv,
// which is then read through the CSV so patient ids and official splits are known), the train/val/test splits
// (stratified, grouped, seeded), the cross-split duplicate check, and the loader settings of each split. Shared by
// `pneuma train` and `pneuma eval`, so evaluation carves exactly the splits the training run carved.
#pragma once
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/data/splits.h"
#include "engine/report/run_report.h"
#include "engine/train/train_config.h"

namespace pneuma::train {

// The CSV a run reads: `data` itself when it is a .csv file, `data`/labels.csv when the folder holds one, else "".
std::string dataset_csv_path(const std::string& data);

data::Dataset load_dataset(const TrainConfig& config);

struct RunSplits {
  data::Splits splits;
  std::string group_by;      // the grouping key used
  int64_t duplicates_found = 0, duplicates_dropped = 0;
  std::vector<std::string> notes;  // for the report (how the splits were made, what was found)
};

// Splits per the config; with check_duplicates the splits are searched for exact and near duplicates (a warning
// on stderr, dropped with drop_duplicates). `threads` decode images for the duplicate check.
RunSplits make_run_splits(const data::Dataset& dataset, const TrainConfig& config, int threads);

// Loader settings: training (shuffled, augmented, balanced sampling when asked) or evaluation (in order, plain).
// `preprocess` is the model's input policy (the checkpoint's normalisation).
data::LoaderOptions loader_options(const TrainConfig& config, const data::PreprocessOptions& preprocess, bool training,
                                   int threads);

// Class counts of every non-empty split, for the report.
report::DatasetSummary dataset_summary(const data::Dataset& dataset, const RunSplits& splits);

// The loss class weights: none (empty), auto (balanced over the training split) or an explicit list.
std::vector<double> class_weights(const TrainConfig& config, const data::Dataset& dataset,
                                  const std::vector<size_t>& train_indices);

// The sample indices of the named split ("train", "val", "test" or "all").
std::vector<size_t> split_indices(const data::Dataset& dataset, const data::Splits& splits, const std::string& name);

}  // namespace pneuma::train
