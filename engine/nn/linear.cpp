#include "engine/nn/linear.h"

#include "engine/nn/init.h"
#include "engine/ops.h"

namespace pneuma::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& generator)
    : in_features_(in_features), out_features_(out_features) {
  PNEUMA_CHECK(in_features > 0 && out_features > 0, "Linear(%lld, %lld): sizes must be positive",
               static_cast<long long>(in_features), static_cast<long long>(out_features));
  Tensor weight = Tensor::empty({out_features, in_features});
  Tensor bias_values = bias ? Tensor::empty({out_features}) : Tensor();
  init::linear_default(weight, bias_values, generator);
  weight_ = register_parameter("weight", weight);
  if (bias) bias_ = register_parameter("bias", bias_values);
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight_, bias_); }

}  // namespace pneuma::nn
