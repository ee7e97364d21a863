// Optimizer and schedule construction from settings (see optimizer_factory.h).
#include "engine/train/optimizer_factory.h"

#include <cmath>

#include "kernels/error.h"

namespace pneuma::train {

void validate(const OptimizerSettings& s) {
  PNEUMA_CHECK(s.kind == "sgd" || s.kind == "adam" || s.kind == "adamw" || s.kind == "rmsprop",
               "unknown optimizer '%s' (sgd, adam, adamw, rmsprop)", s.kind.c_str());
  PNEUMA_CHECK(s.learning_rate > 0 && std::isfinite(s.learning_rate), "learning rate must be > 0, got %g",
               s.learning_rate);
  PNEUMA_CHECK(s.weight_decay >= 0, "weight decay must be >= 0, got %g", s.weight_decay);
  PNEUMA_CHECK(s.momentum >= 0 && s.momentum < 1, "momentum must be in [0, 1), got %g", s.momentum);
  PNEUMA_CHECK(!s.nesterov || (s.kind == "sgd" && s.momentum > 0), "--nesterov needs the sgd optimizer with momentum");
  PNEUMA_CHECK(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1, "Adam betas must be in [0, 1)");
}

void validate(const ScheduleSettings& s) {
  PNEUMA_CHECK(s.kind == "constant" || s.kind == "step" || s.kind == "cosine",
               "unknown schedule '%s' (constant, step, cosine)", s.kind.c_str());
  PNEUMA_CHECK(s.warmup_epochs >= 0, "warmup epochs must be >= 0, got %g", s.warmup_epochs);
  PNEUMA_CHECK(s.warmup_start_factor >= 0 && s.warmup_start_factor <= 1, "warmup start factor must be in [0, 1]");
  PNEUMA_CHECK(s.min_lr >= 0, "minimum learning rate must be >= 0, got %g", s.min_lr);
  PNEUMA_CHECK(s.step_epochs > 0 && s.gamma > 0, "the step schedule needs step epochs > 0 and gamma > 0");
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerSettings& s, const nn::Module& model) {
  validate(s);
  std::vector<optim::ParameterGroup> groups =
      optim::weight_decay_groups(model.named_parameters(), s.weight_decay, s.no_weight_decay_on_norms_and_biases);
  PNEUMA_CHECK(!groups.empty(), "the model has no parameters to train");
  if (s.kind == "sgd") {
    optim::SgdOptions o;
    o.learning_rate = s.learning_rate;
    o.momentum = s.momentum;
    o.nesterov = s.nesterov;
    o.weight_decay = s.weight_decay;
    return std::make_unique<optim::Sgd>(std::move(groups), o);
  }
  if (s.kind == "rmsprop") {
    optim::RmspropOptions o = optim::RmspropOptions::keras_defaults();
    o.learning_rate = s.learning_rate;
    o.momentum = s.momentum;
    o.weight_decay = s.weight_decay;
    if (s.eps >= 0) o.eps = s.eps;
    return std::make_unique<optim::Rmsprop>(std::move(groups), o);
  }
  optim::AdamOptions o;
  o.learning_rate = s.learning_rate;
  o.beta1 = s.beta1;
  o.beta2 = s.beta2;
  if (s.eps >= 0) o.eps = s.eps;
  o.weight_decay = s.weight_decay;
  if (s.kind == "adamw") return std::make_unique<optim::AdamW>(std::move(groups), o);
  return std::make_unique<optim::Adam>(std::move(groups), o);
}

std::unique_ptr<optim::LrSchedule> make_schedule(const ScheduleSettings& s, double base_lr, int64_t steps_per_epoch,
                                                 int64_t epochs) {
  validate(s);
  const double unit = s.per_epoch ? 1.0 : static_cast<double>(steps_per_epoch);  // steps per epoch of the schedule
  auto steps = [&](double epoch_count) { return static_cast<int64_t>(std::llround(epoch_count * unit)); };
  if (s.kind == "step") return std::make_unique<optim::StepLr>(base_lr, std::max<int64_t>(1, steps(s.step_epochs)), s.gamma);
  if (s.kind == "cosine") {
    const int64_t total = std::max<int64_t>(1, steps(static_cast<double>(epochs)));
    const int64_t warmup = std::min(total - 1, steps(s.warmup_epochs));
    PNEUMA_CHECK(s.min_lr <= base_lr, "cosine schedule: minimum learning rate %g is above the learning rate %g",
                 s.min_lr, base_lr);
    return std::make_unique<optim::WarmupCosineLr>(base_lr, total, std::max<int64_t>(0, warmup),
                                                   s.warmup_start_factor, s.min_lr);
  }
  return std::make_unique<optim::ConstantLr>(base_lr);
}

}  // namespace pneuma::train
