#include "engine/optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace pneuma::optim {

ReduceLrOnPlateau::ReduceLrOnPlateau(double initial_lr, const ReduceLrOnPlateauOptions& options)
    : options_(options), learning_rate_(initial_lr) {
  PNEUMA_CHECK(options.factor < 1.0 && options.factor >= 0, "ReduceLrOnPlateau: factor %g must be in [0, 1)",
               options.factor);
  PNEUMA_CHECK(options.patience >= 0 && options.cooldown >= 0 && options.threshold >= 0 && options.min_lr >= 0,
               "ReduceLrOnPlateau: patience, cooldown, threshold and min_lr must be non-negative");
  PNEUMA_CHECK(initial_lr >= 0, "ReduceLrOnPlateau: invalid learning rate %g", initial_lr);
}

bool ReduceLrOnPlateau::is_better(double metric) const {
  using Mode = ReduceLrOnPlateauOptions::Mode;
  using ThresholdMode = ReduceLrOnPlateauOptions::ThresholdMode;
  // Comparisons written exactly as PyTorch's _cmp, so NaN metrics are never better.
  if (!has_best_) return options_.mode == Mode::min ? metric < INFINITY : metric > -INFINITY;
  const double t = options_.threshold;
  if (options_.mode == Mode::min)
    return options_.threshold_mode == ThresholdMode::relative ? metric < best_ * (1.0 - t) : metric < best_ - t;
  return options_.threshold_mode == ThresholdMode::relative ? metric > best_ * (t + 1.0) : metric > best_ + t;
}

double ReduceLrOnPlateau::step(double metric) {
  ++evaluations_;
  if (is_better(metric)) {
    best_ = metric;
    has_best_ = true;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;  // bad evaluations during cooldown do not count
  }
  if (bad_epochs_ > options_.patience) {
    const double reduced = std::max(learning_rate_ * options_.factor, options_.min_lr);
    if (learning_rate_ - reduced > options_.eps) learning_rate_ = reduced;
    cooldown_counter_ = options_.cooldown;
    bad_epochs_ = 0;
  }
  return learning_rate_;
}

std::map<std::string, double> ReduceLrOnPlateau::export_state() const {
  return {{"learning_rate", learning_rate_},
          {"has_best", has_best_ ? 1.0 : 0.0},
          {"best", has_best_ ? best_ : 0.0},
          {"bad_epochs", static_cast<double>(bad_epochs_)},
          {"cooldown_counter", static_cast<double>(cooldown_counter_)},
          {"evaluations", static_cast<double>(evaluations_)}};
}

void ReduceLrOnPlateau::import_state(const std::map<std::string, double>& state) {
  auto get = [&](const char* key) {
    auto found = state.find(key);
    PNEUMA_CHECK(found != state.end(), "ReduceLrOnPlateau state: missing '%s'", key);
    return found->second;
  };
  learning_rate_ = get("learning_rate");
  has_best_ = get("has_best") != 0.0;
  best_ = get("best");
  bad_epochs_ = static_cast<int64_t>(get("bad_epochs"));
  cooldown_counter_ = static_cast<int64_t>(get("cooldown_counter"));
  evaluations_ = static_cast<int64_t>(get("evaluations"));
}

}  // namespace pneuma::optim
