// A pointwise activation as a module (no parameters).
#pragma once
#include "engine/nn/module.h"
#include "kernels/activation.h"

namespace pneuma::nn {

class Activation : public Module {
 public:
  explicit Activation(kernels::Activation kind) : kind_(kind) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override;
  kernels::Activation kind() const { return kind_; }

 private:
  kernels::Activation kind_;
};

}  // namespace pneuma::nn
