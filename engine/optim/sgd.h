// Stochastic gradient descent with optional momentum, dampening and Nesterov momentum (torch.optim.SGD).
// Buffer: "momentum_buffer" (only with momentum), initialised to the first gradient.
#pragma once
#include "engine/optim/optimizer.h"
#include "kernels/optim.h"

namespace pneuma::optim {

struct SgdOptions {
  double learning_rate = 0.01;
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  double weight_decay = 0;  // L2 added to the gradient; the default for groups that set none
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParameterGroup> groups, const SgdOptions& options);
  Sgd(const std::vector<Tensor>& parameters, const SgdOptions& options) : Sgd(single_group(parameters), options) {}
  std::string type_name() const override { return "Sgd"; }
  const SgdOptions& options() const { return options_; }

 protected:
  void update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t step,
              std::map<std::string, Tensor>& buffers) override;
  void update_on_cuda(std::vector<ParameterUpdate>& updates) override;
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  kernels::SgdHyper hyper(double learning_rate, double weight_decay) const;
  // The parameter's momentum buffer (zeros, created on its first step, which `first_step` reports), or undefined
  // without momentum.
  Tensor momentum_buffer(const Tensor& parameter, std::map<std::string, Tensor>& buffers, bool& first_step) const;

  SgdOptions options_;
};

}  // namespace pneuma::optim
