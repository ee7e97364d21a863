// Collapses axes [start_axis, end) into one: [N, H, W, C] -> [N, H·W·C] with the default start_axis 1.
#pragma once
#include "engine/nn/module.h"

namespace pneuma::nn {

class Flatten : public Module {
 public:
  explicit Flatten(int start_axis = 1) : start_axis_(start_axis) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }

 private:
  int start_axis_;
};

}  // namespace pneuma::nn
