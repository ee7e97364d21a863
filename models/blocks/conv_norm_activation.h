// Conv2d (no bias) → BatchNorm2d → activation, as torchvision's Conv2dNormActivation: children "0" (conv),
// "1" (batch norm) and, unless the activation is identity, "2" (activation). Padding defaults to PyTorch's
// symmetric (kernel−1)/2·dilation; pass Padding2d::same() for models that use TensorFlow weights.
#pragma once
#include <optional>

#include "engine/nn/nn.h"
#include "models/sequence.h"

namespace pneuma::models {

struct ConvNormActivationOptions {
  int64_t kernel_size = 3, stride = 1, groups = 1, dilation = 1;
  kernels::Activation activation = kernels::Activation::relu6;
  std::optional<Padding2d> padding;  // default: symmetric (kernel_size − 1) / 2 · dilation
  double batch_norm_eps = 1e-5, batch_norm_momentum = 0.1;
};

std::shared_ptr<Sequence> conv_norm_activation(int64_t in_channels, int64_t out_channels,
                                               const ConvNormActivationOptions& options,
                                               Generator& generator = default_generator());

}  // namespace pneuma::models
