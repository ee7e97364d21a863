// Squeeze-and-excitation (torchvision.ops.SqueezeExcitation): scale = gate(fc2(activation(fc1(mean_hw(x))))),
// output = x · scale per sample and channel. fc1/fc2 are 1×1 convolutions named like torchvision's
// ("fc1.weight" [squeeze, 1, 1, channels], "fc1.bias", "fc2.weight" [channels, 1, 1, squeeze], "fc2.bias"),
// initialised as convolutions (kaiming_normal fan_out, zero bias); on the pooled [N, C] vector they run as
// linear layers.
#pragma once
#include <memory>

#include "engine/nn/conv2d.h"
#include "engine/nn/module.h"
#include "kernels/activation.h"

namespace pneuma::nn {

class SqueezeExcitation : public Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t squeeze_channels,
                    kernels::Activation activation = kernels::Activation::silu,
                    kernels::Activation gate = kernels::Activation::sigmoid,
                    Generator& generator = default_generator());

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SqueezeExcitation"; }

  const std::shared_ptr<Conv2d>& fc1() const { return fc1_; }
  const std::shared_ptr<Conv2d>& fc2() const { return fc2_; }

 private:
  int64_t channels_, squeeze_channels_;
  kernels::Activation activation_, gate_;
  std::shared_ptr<Conv2d> fc1_, fc2_;
};

}  // namespace pneuma::nn
