// Element-wise dropout: in train mode zeroes each element with probability p and scales the rest by 1/(1−p);
// identity in eval mode. The mask comes from `generator` (kept by reference: it must outlive the module).
#pragma once
#include "engine/nn/module.h"
#include "engine/rng.h"

namespace pneuma::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Dropout"; }
  double p() const { return p_; }

 private:
  double p_;
  Generator* generator_;
};

}  // namespace pneuma::nn
