// Fully connected layer on the last axis: [..., in] -> [..., out]. Weight [out, in] "weight", bias [out] "bias".
// PyTorch's default initialisation: U(±1/√in) for both.
#pragma once
#include "engine/nn/module.h"
#include "engine/rng.h"

namespace pneuma::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& generator = default_generator());

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Linear"; }

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

}  // namespace pneuma::nn
