// Stochastic depth (torchvision's StochasticDepth, mode "row"): in train mode drops each whole sample of the
// batch with probability p and scales survivors by 1/(1−p); identity in eval mode. Used on residual branches.
// The mask comes from `generator` (kept by reference: it must outlive the module).
#pragma once
#include "engine/nn/module.h"
#include "engine/rng.h"

namespace pneuma::nn {

class DropPath : public Module {
 public:
  explicit DropPath(double p, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "DropPath"; }
  double p() const { return p_; }

 private:
  double p_;
  Generator* generator_;
};

}  // namespace pneuma::nn
