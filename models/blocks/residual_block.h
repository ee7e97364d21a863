// Common base of the blocks that may add their input back to their output (MobileNetV2's inverted residual,
// MBConv, Fused-MBConv, timm's blocks). Model-walking code (Keras-style layer counting in models/freezing) asks
// uses_residual() to know whether the block ends in an addition.
#pragma once
#include "engine/nn/module.h"

namespace pneuma::models {

class ResidualBlock : public nn::Module {
 public:
  bool uses_residual() const { return use_residual_; }

 protected:
  explicit ResidualBlock(bool use_residual) : use_residual_(use_residual) {}

 private:
  bool use_residual_;
};

}  // namespace pneuma::models
