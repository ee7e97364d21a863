// Patience counting for early stopping (see early_stopping.h).
#include "engine/train/early_stopping.h"

#include <cmath>

#include "kernels/error.h"

namespace pneuma::train {

EarlyStopping::EarlyStopping(const EarlyStoppingOptions& options) : options_(options) {
  PNEUMA_CHECK(options.patience >= 0, "early stopping: patience must be >= 0, got %lld",
               static_cast<long long>(options.patience));
  PNEUMA_CHECK(options.min_delta >= 0, "early stopping: min_delta must be >= 0, got %g", options.min_delta);
}

bool EarlyStopping::is_improvement(double value) const {
  if (!has_best_) return true;
  return options_.mode == MetricMode::min ? value < best_ - options_.min_delta : value > best_ + options_.min_delta;
}

bool EarlyStopping::update(double value) {
  PNEUMA_CHECK(std::isfinite(value), "early stopping: the monitored metric is %g", value);
  if (is_improvement(value)) {
    has_best_ = true;
    best_ = value;
    wait_ = 0;
  } else {
    ++wait_;
  }
  return should_stop();
}

std::map<std::string, double> EarlyStopping::export_state() const {
  return {{"has_best", has_best_ ? 1.0 : 0.0}, {"best", best_}, {"wait", static_cast<double>(wait_)}};
}

void EarlyStopping::import_state(const std::map<std::string, double>& state) {
  auto get = [&](const char* key) {
    auto found = state.find(key);
    PNEUMA_CHECK(found != state.end(), "early stopping state: '%s' is missing", key);
    return found->second;
  };
  has_best_ = get("has_best") != 0;
  best_ = get("best");
  wait_ = static_cast<int64_t>(get("wait"));
}

}  // namespace pneuma::train
