#include "engine/nn/activation.h"

#include "engine/ops.h"

namespace pneuma::nn {

Tensor Activation::forward(const Tensor& input) {
  return kind_ == kernels::Activation::identity ? input : activation(input, kind_);
}

std::string Activation::type_name() const { return std::string("Activation(") + kernels::activation_name(kind_) + ")"; }

}  // namespace pneuma::nn
