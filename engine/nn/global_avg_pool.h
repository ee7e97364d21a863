// Mean over the spatial axes: [N, H, W, C] -> [N, C].
#pragma once
#include "engine/nn/module.h"

namespace pneuma::nn {

class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GlobalAvgPool"; }
};

}  // namespace pneuma::nn
