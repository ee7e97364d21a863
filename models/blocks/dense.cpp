#include "models/blocks/dense.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops.h"

namespace pneuma::models {

Dense::Dense(int64_t in_features, int64_t out_features, kernels::Activation activation, double input_dropout,
             DenseInit init, Generator& generator)
    : nn::Linear(in_features, out_features, true, generator), activation_(activation), input_dropout_(input_dropout) {
  PNEUMA_CHECK(input_dropout >= 0 && input_dropout < 1, "Dense: input dropout must be in [0, 1), got %g",
               input_dropout);
  Tensor w = weight(), b = bias();
  switch (init) {
    case DenseInit::normal_0_01: nn::init::normal(w, 0, 0.01, generator); break;
    case DenseInit::uniform_inverse_sqrt_out: {
      const double bound = 1 / std::sqrt(static_cast<double>(out_features));
      nn::init::uniform(w, -bound, bound, generator);
      break;
    }
    case DenseInit::glorot_uniform: {
      const double bound = std::sqrt(6.0 / static_cast<double>(in_features + out_features));
      nn::init::uniform(w, -bound, bound, generator);
      break;
    }
  }
  nn::init::constant(b, 0);
}

Tensor Dense::forward(const Tensor& input) {
  const Tensor x = input_dropout_ > 0 ? dropout(input, input_dropout_, is_training()) : input;
  const Tensor y = nn::Linear::forward(x);
  return activation_ == kernels::Activation::identity ? y : pneuma::activation(y, activation_);
}

std::string Dense::type_name() const {
  std::string name = "Dense";
  if (activation_ != kernels::Activation::identity) name += std::string("(") + kernels::activation_name(activation_) + ")";
  return name;
}

}  // namespace pneuma::models
