// The per-epoch record of a training run, written as history.csv and history.json in the run folder after every
// epoch (and kept in the checkpoint's training state, so a resumed run writes the complete history).
// Metrics that were not measured (no validation split) are NaN in memory, empty in the CSV and null in the JSON.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace pneuma::train {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based, counted over all phases
  std::string phase;
  double learning_rate = 0;  // at the end of the epoch
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0, val_auc = 0, val_f1 = 0;
  double seconds = 0, images_per_second = 0;
  bool best = false;  // the monitored metric improved on the best so far
};

struct History {
  std::vector<EpochRecord> epochs;

  nlohmann::json to_json() const;
  static History from_json(const nlohmann::json& json);
  std::string to_csv() const;
  // history.csv and history.json in `directory`, each written atomically.
  void write(const std::string& directory) const;
};

}  // namespace pneuma::train
