// RMSprop (torch.optim.RMSprop). Buffers "square_avg", "momentum_buffer" (with momentum), "grad_avg" (centered).
// Two options reproduce TensorFlow/Keras: eps_inside_sqrt (g / sqrt(v + eps) instead of g / (sqrt(v) + eps)) and
// initial_square_average (TF1's tf.train.RMSPropOptimizer, used by the original EfficientNet recipe, starts the
// square average at 1; Keras 2 and PyTorch start at 0). keras_defaults() gives Keras' RMSprop defaults.
#pragma once
#include "engine/optim/optimizer.h"
#include "kernels/optim.h"

namespace pneuma::optim {

struct RmspropOptions {
  double learning_rate = 1e-2;
  double alpha = 0.99;  // decay of the square average (Keras: rho)
  double eps = 1e-8;
  double momentum = 0;
  bool centered = false;
  double weight_decay = 0;  // L2 added to the gradient; the default for groups that set none
  bool eps_inside_sqrt = false;
  double initial_square_average = 0;

  static RmspropOptions keras_defaults() {
    RmspropOptions options;
    options.learning_rate = 1e-3;
    options.alpha = 0.9;
    options.eps = 1e-7;
    options.eps_inside_sqrt = true;
    return options;
  }
};

class Rmsprop : public Optimizer {
 public:
  Rmsprop(std::vector<ParameterGroup> groups, const RmspropOptions& options);
  Rmsprop(const std::vector<Tensor>& parameters, const RmspropOptions& options)
      : Rmsprop(single_group(parameters), options) {}
  std::string type_name() const override { return "Rmsprop"; }
  const RmspropOptions& options() const { return options_; }

 protected:
  void update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t step,
              std::map<std::string, Tensor>& buffers) override;
  void update_on_cuda(std::vector<ParameterUpdate>& updates) override;
  std::vector<std::string> buffer_names() const override { return {"square_avg", "momentum_buffer", "grad_avg"}; }

 private:
  // A parameter's state, created on its first step; momentum_buffer / grad_avg undefined when not used.
  struct Buffers {
    Tensor square_avg, momentum_buffer, grad_avg;
  };
  Buffers buffers_for(const Tensor& parameter, std::map<std::string, Tensor>& buffers) const;
  kernels::RmspropHyper hyper(double learning_rate, double weight_decay) const;

  RmspropOptions options_;
};

}  // namespace pneuma::optim
