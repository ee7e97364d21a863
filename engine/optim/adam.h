// Adam (torch.optim.Adam: L2 weight decay added to the gradient) and AdamW (torch.optim.AdamW: decoupled weight
// decay, parameter ← parameter·(1 − lr·weight_decay) before the Adam step). Buffers "exp_avg", "exp_avg_sq";
// bias correction uses each parameter's own step count.
#pragma once
#include "engine/optim/optimizer.h"
#include "kernels/optim.h"

namespace pneuma::optim {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // the default for groups that set none
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParameterGroup> groups, const AdamOptions& options);
  Adam(const std::vector<Tensor>& parameters, const AdamOptions& options) : Adam(single_group(parameters), options) {}
  std::string type_name() const override { return decoupled_weight_decay_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<ParameterGroup> groups, const AdamOptions& options, bool decoupled_weight_decay);
  void update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t step,
              std::map<std::string, Tensor>& buffers) override;
  void update_on_cuda(std::vector<ParameterUpdate>& updates) override;
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }

 private:
  kernels::AdamHyper hyper(double learning_rate, double weight_decay, int64_t step) const;
  static void create_buffers(const Tensor& parameter, std::map<std::string, Tensor>& buffers);  // zeros, once

  AdamOptions options_;
  bool decoupled_weight_decay_;
};

// PyTorch's AdamW default weight decay is 1e-2; pass it explicitly in `options` (AdamOptions defaults to 0).
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParameterGroup> groups, const AdamOptions& options) : Adam(std::move(groups), options, true) {}
  AdamW(const std::vector<Tensor>& parameters, const AdamOptions& options)
      : Adam(single_group(parameters), options, true) {}
};

}  // namespace pneuma::optim
