#include "engine/nn/squeeze_excitation.h"

#include "engine/ops.h"

namespace pneuma::nn {

SqueezeExcitation::SqueezeExcitation(int64_t channels, int64_t squeeze_channels, kernels::Activation activation,
                                     kernels::Activation gate, Generator& generator)
    : channels_(channels), squeeze_channels_(squeeze_channels), activation_(activation), gate_(gate) {
  fc1_ = register_module(
      "fc1", std::make_shared<Conv2d>(channels, squeeze_channels, 1, 1, Padding2d(), 1, 1, true, generator));
  fc2_ = register_module(
      "fc2", std::make_shared<Conv2d>(squeeze_channels, channels, 1, 1, Padding2d(), 1, 1, true, generator));
}

Tensor SqueezeExcitation::forward(const Tensor& input) {
  PNEUMA_CHECK(input.rank() == 4 && input.dim(3) == channels_,
               "SqueezeExcitation(%lld): input %s is not NHWC with %lld channels", static_cast<long long>(channels_),
               input.describe().c_str(), static_cast<long long>(channels_));
  // A 1×1 convolution of a 1×1 image is a linear layer: view the [out, 1, 1, in] weights as [out, in].
  const Tensor pooled = global_avg_pool(input);
  Tensor squeezed = linear(pooled, reshape(fc1_->weight(), {squeeze_channels_, channels_}), fc1_->bias());
  squeezed = activation(squeezed, activation_);
  Tensor scale = linear(squeezed, reshape(fc2_->weight(), {channels_, squeeze_channels_}), fc2_->bias());
  scale = activation(scale, gate_);
  return channel_scale(input, scale);
}

}  // namespace pneuma::nn
