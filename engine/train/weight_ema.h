// An exponential moving average of a model's weights (parameters and floating buffers such as BatchNorm running
// statistics), updated after every optimizer step:
//   average ← d·average + (1 − d)·weight,   d = min(decay, (1 + updates) / (10 + updates))
// (TensorFlow's ExponentialMovingAverage with num_updates, so the average is not stuck near the initial weights
// early in training). Validation and the saved best model use the average when it is on. The averages live on the
// device of the model's weights (move the model first); updates and swaps run there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace pneuma::train {

class WeightEma {
 public:
  WeightEma(const nn::Module& model, double decay);  // the average starts as a copy of the model
  void update(const nn::Module& model);
  // Exchanges the model's weights with the averages; calling it again swaps them back.
  void swap_with(nn::Module& model);

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  void set_updates(int64_t updates) { updates_ = updates; }
  // In the model's state_dict order and names.
  const std::vector<nn::NamedTensor>& averages() const { return averages_; }
  // Copies `tensor` into the average called `name` (a checkpoint load); the shapes must agree.
  void load_average(const std::string& name, const Tensor& tensor);

 private:
  double decay_;
  int64_t updates_ = 0;
  std::vector<nn::NamedTensor> averages_;
};

}  // namespace pneuma::train
