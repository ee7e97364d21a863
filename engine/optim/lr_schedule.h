// Learning-rate schedules as pure functions of the step number (0-based: learning_rate(0) is the rate for the
// first update). Whether a "step" is an optimizer update or an epoch is the caller's choice. ReduceLrOnPlateau,
// which depends on a validation metric rather than on the step, lives in reduce_lr_on_plateau.h.
#pragma once
#include <cstdint>
#include <string>

namespace pneuma::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double learning_rate(int64_t step) const = 0;
  double operator()(int64_t step) const { return learning_rate(step); }
  virtual std::string describe() const = 0;
};

class ConstantLr : public LrSchedule {
 public:
  explicit ConstantLr(double base_lr);
  double learning_rate(int64_t step) const override { return base_lr_; }
  std::string describe() const override;

 private:
  double base_lr_;
};

// torch.optim.lr_scheduler.StepLR: base_lr · gamma^⌊step / step_size⌋.
class StepLr : public LrSchedule {
 public:
  StepLr(double base_lr, int64_t step_size, double gamma = 0.1);
  double learning_rate(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

// Linear warmup then cosine decay — PyTorch's SequentialLR([LinearLR(start_factor, total_iters=warmup_steps),
// CosineAnnealingLR(T_max=total_steps − warmup_steps, eta_min=min_lr)], milestones=[warmup_steps]) in closed form:
//   step < warmup_steps:  base_lr · (start_factor + (1 − start_factor) · step / warmup_steps)
//   otherwise:            min_lr + (base_lr − min_lr) · (1 + cos(π · (step − warmup_steps) / decay_steps)) / 2
// with decay_steps = total_steps − warmup_steps; from total_steps on it stays at min_lr (PyTorch's cosine would
// rise again).
class WarmupCosineLr : public LrSchedule {
 public:
  WarmupCosineLr(double base_lr, int64_t total_steps, int64_t warmup_steps = 0, double warmup_start_factor = 0.0,
                 double min_lr = 0.0);
  double learning_rate(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_;
  int64_t total_steps_, warmup_steps_;
  double warmup_start_factor_, min_lr_;
};

}  // namespace pneuma::optim
