#include "engine/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/error.h"

namespace pneuma::optim {

ConstantLr::ConstantLr(double base_lr) : base_lr_(base_lr) {
  PNEUMA_CHECK(base_lr >= 0, "ConstantLr: invalid learning rate %g", base_lr);
}

std::string ConstantLr::describe() const { return detail::format_message("constant(%g)", base_lr_); }

StepLr::StepLr(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
  PNEUMA_CHECK(base_lr >= 0 && step_size > 0 && gamma > 0,
               "StepLr: needs base_lr >= 0, step_size > 0, gamma > 0 (got %g, %lld, %g)", base_lr,
               static_cast<long long>(step_size), gamma);
}

double StepLr::learning_rate(int64_t step) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(std::max<int64_t>(step, 0) / step_size_));
}

std::string StepLr::describe() const {
  return detail::format_message("step(%g, every %lld steps × %g)", base_lr_, static_cast<long long>(step_size_),
                                gamma_);
}

WarmupCosineLr::WarmupCosineLr(double base_lr, int64_t total_steps, int64_t warmup_steps, double warmup_start_factor,
                               double min_lr)
    : base_lr_(base_lr),
      total_steps_(total_steps),
      warmup_steps_(warmup_steps),
      warmup_start_factor_(warmup_start_factor),
      min_lr_(min_lr) {
  PNEUMA_CHECK(base_lr >= 0 && min_lr >= 0 && min_lr <= base_lr, "WarmupCosineLr: needs 0 <= min_lr %g <= base_lr %g",
               min_lr, base_lr);
  PNEUMA_CHECK(warmup_steps >= 0 && total_steps > warmup_steps,
               "WarmupCosineLr: needs 0 <= warmup_steps %lld < total_steps %lld", static_cast<long long>(warmup_steps),
               static_cast<long long>(total_steps));
  PNEUMA_CHECK(warmup_start_factor >= 0 && warmup_start_factor <= 1,
               "WarmupCosineLr: warmup_start_factor %g must be in [0, 1]", warmup_start_factor);
}

double WarmupCosineLr::learning_rate(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  if (step < warmup_steps_) {
    const double progress = static_cast<double>(step) / static_cast<double>(warmup_steps_);
    return base_lr_ * (warmup_start_factor_ + (1.0 - warmup_start_factor_) * progress);
  }
  if (step >= total_steps_) return min_lr_;
  const double progress =
      static_cast<double>(step - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return min_lr_ + (base_lr_ - min_lr_) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
}

std::string WarmupCosineLr::describe() const {
  return detail::format_message("warmup_cosine(%g, %lld warmup steps from ×%g, %lld steps, min %g)", base_lr_,
                                static_cast<long long>(warmup_steps_), warmup_start_factor_,
                                static_cast<long long>(total_steps_), min_lr_);
}

}  // namespace pneuma::optim
