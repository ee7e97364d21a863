// torch.optim.lr_scheduler.ReduceLROnPlateau with PyTorch's exact semantics, driven by a validation metric:
// after each evaluation call step(metric); when the metric has not improved for more than `patience` evaluations
// the learning rate is multiplied by `factor` (never below min_lr, and only if it changes by more than eps), then
// `cooldown` evaluations pass before bad evaluations count again. Improvement ("better") means
//   min/relative: metric < best·(1 − threshold)    min/absolute: metric < best − threshold
//   max/relative: metric > best·(1 + threshold)    max/absolute: metric > best + threshold
// Usage: optimizer.set_learning_rate(plateau.step(validation_loss)).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace pneuma::optim {

struct ReduceLrOnPlateauOptions {
  enum class Mode { min, max };
  enum class ThresholdMode { relative, absolute };
  Mode mode = Mode::min;
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::relative;
  int64_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;
};

class ReduceLrOnPlateau {
 public:
  ReduceLrOnPlateau(double initial_lr, const ReduceLrOnPlateauOptions& options = {});

  // Records one evaluation and returns the learning rate to use from now on.
  double step(double metric);
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate) { learning_rate_ = learning_rate; }

  bool is_better(double metric) const;  // than the best so far (always true before the first step)
  bool has_best() const { return has_best_; }
  double best() const { return best_; }
  int64_t bad_epochs() const { return bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  int64_t evaluations() const { return evaluations_; }
  const ReduceLrOnPlateauOptions& options() const { return options_; }

  // Scalars only, all finite (JSON-safe): learning_rate, has_best, best, bad_epochs, cooldown_counter, evaluations.
  std::map<std::string, double> export_state() const;
  void import_state(const std::map<std::string, double>& state);

 private:
  ReduceLrOnPlateauOptions options_;
  double learning_rate_;
  bool has_best_ = false;  // PyTorch starts best at ±inf; "no best yet" is the same thing, kept finite
  double best_ = 0;
  int64_t bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t evaluations_ = 0;
};

}  // namespace pneuma::optim
