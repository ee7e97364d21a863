// Dense: a fully connected layer with an optional activation after it and an optional dropout on its input, as one
// module whose parameters are "weight" [out, in] and "bias" [out] — so a classifier built from Dense layers maps
// one-to-one onto Keras Dense layers, and timm's classifier (dropout applied functionally, then Linear) keeps its
// names ("classifier.weight").
//
// Initialisation (`DenseInit`): torchvision's MobileNetV2 classifier N(0, 0.01²); torchvision's EfficientNet and
// timm's classifiers U(±1/√out); Keras' Dense default glorot_uniform U(±√(6 / (in + out))). Biases start at zero.
#pragma once
#include "engine/nn/linear.h"
#include "kernels/activation.h"

namespace pneuma::models {

enum class DenseInit { normal_0_01, uniform_inverse_sqrt_out, glorot_uniform };

class Dense : public nn::Linear {
 public:
  Dense(int64_t in_features, int64_t out_features, kernels::Activation activation, double input_dropout,
        DenseInit init, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override;

  kernels::Activation activation() const { return activation_; }
  double input_dropout() const { return input_dropout_; }

 private:
  kernels::Activation activation_;
  double input_dropout_;
};

}  // namespace pneuma::models
