// Building the optimizer and the learning-rate schedule of a training phase from their settings (the
// `--optimizer …`, `--lr …`, `--schedule …` options of `pneuma train`).
//
// The optimizer always holds every parameter of the model (frozen ones simply get no gradient and are skipped),
// so the state of a phase can be saved and restored by parameter index whatever is frozen.
// Schedules run per optimizer step or per epoch; durations are given in epochs and converted.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "engine/optim/optim.h"

namespace pneuma::train {

struct OptimizerSettings {
  std::string kind = "adam";  // sgd | adam | adamw | rmsprop
  double learning_rate = 1e-3;
  double weight_decay = 0;
  bool no_weight_decay_on_norms_and_biases = true;
  double momentum = 0;  // sgd and rmsprop
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = -1;  // < 0: the optimizer's default (Adam 1e-8, RMSprop Keras' 1e-7)
};

struct ScheduleSettings {
  std::string kind = "constant";  // constant | step | cosine
  bool per_epoch = false;         // update once per epoch instead of every step
  double warmup_epochs = 0;       // cosine: linear warmup
  double warmup_start_factor = 0;
  double min_lr = 0;              // cosine floor
  double step_epochs = 10;        // step: decay every this many epochs
  double gamma = 0.1;             // step: decay factor
};

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerSettings& settings, const nn::Module& model);

// A schedule over "steps" that are optimizer steps, or epochs when settings.per_epoch.
std::unique_ptr<optim::LrSchedule> make_schedule(const ScheduleSettings& settings, double base_lr,
                                                 int64_t steps_per_epoch, int64_t epochs);

void validate(const OptimizerSettings& settings);
void validate(const ScheduleSettings& settings);

}  // namespace pneuma::train
