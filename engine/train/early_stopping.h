// EarlyStopping with Keras' semantics: after each epoch, update(value) compares the monitored metric with the best
// so far; an improvement (mode min: value < best − min_delta; max: value > best + min_delta) resets the wait,
// anything else adds one, and the phase stops once `patience` epochs in a row have not improved.
// Restoring the best weights is the trainer's job (it keeps the best checkpoint).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace pneuma::train {

enum class MetricMode { min, max };

struct EarlyStoppingOptions {
  bool enabled = false;
  MetricMode mode = MetricMode::min;
  int64_t patience = 5;
  double min_delta = 0.0;
};

class EarlyStopping {
 public:
  explicit EarlyStopping(const EarlyStoppingOptions& options = {});
  // Records one epoch's metric; returns true when training should stop now.
  bool update(double value);
  bool is_improvement(double value) const;
  bool should_stop() const { return options_.enabled && wait_ >= options_.patience; }
  int64_t wait() const { return wait_; }
  bool has_best() const { return has_best_; }
  double best() const { return best_; }

  std::map<std::string, double> export_state() const;  // has_best, best, wait
  void import_state(const std::map<std::string, double>& state);

 private:
  EarlyStoppingOptions options_;
  bool has_best_ = false;
  double best_ = 0;
  int64_t wait_ = 0;
};

}  // namespace pneuma::train
