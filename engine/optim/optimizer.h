// Optimizer: the base of Sgd, Adam, AdamW and Rmsprop. It owns a flat list of parameters gathered from parameter
// groups (each group with its own weight decay and learning-rate multiplier) and, per parameter, a step count and
// named state buffers (momentum, moments, ...). step() updates every parameter whose gradient is defined — the
// others are skipped, as in PyTorch, and their step count does not advance. CPU parameters are updated one tensor
// at a time; CUDA parameters (f32, all on one GPU) are collected and updated together by multi-tensor kernels.
//
// State export/import (for checkpoints) is a set of named tensors and scalars:
//   tensors "<index>.<parameter name>.<buffer>"  e.g. "12.features.3.conv.0.weight.exp_avg"
//   scalars "<index>.<parameter name>.step", "learning_rate", "step_count"
// Import matches by index and checks the name and shape, so a resumed run continues bit-exactly.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pneuma::optim {

struct ParameterGroup {
  std::vector<Tensor> parameters;
  std::vector<std::string> names;      // empty, or one per parameter (used in state keys and messages)
  std::optional<double> weight_decay;  // unset: the optimizer's default weight decay
  double lr_multiplier = 1.0;          // the group's learning rate is learning_rate() · lr_multiplier
};

// One parameter's share of a step, as handed to the multi-tensor CUDA update.
struct ParameterUpdate {
  Tensor parameter;  // updated in place
  Tensor grad;       // contiguous; same shape, dtype and device
  double learning_rate = 0, weight_decay = 0;
  int64_t step = 0;  // 1-based update count including this one
  std::map<std::string, Tensor>* buffers = nullptr;  // this parameter's state, empty before its first update
};

struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

class Optimizer {
 public:
  Optimizer(std::vector<ParameterGroup> groups, double learning_rate, double default_weight_decay);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;

  void step();       // one update, under NoGradGuard
  void zero_grad();  // drops every parameter's gradient

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);
  int64_t step_count() const { return step_count_; }  // step() calls so far

  const std::vector<ParameterGroup>& groups() const { return groups_; }
  size_t parameter_count() const { return entries_.size(); }  // parameter tensors, over all groups
  const Tensor& parameter(size_t index) const { return entries_.at(index).parameter; }
  const std::string& parameter_name(size_t index) const { return entries_.at(index).name; }
  int64_t parameter_step(size_t index) const { return entries_.at(index).step; }
  // The named state buffer of a parameter, or an undefined tensor before its first update.
  Tensor buffer(size_t index, const std::string& buffer_name) const;

  OptimizerState export_state() const;  // deep copies
  void import_state(const OptimizerState& state);

 protected:
  // Updates `parameter` in place from `grad` (same shape, dtype and device, contiguous). `buffers` holds this
  // parameter's state, empty before its first update; `step` is its 1-based update count including this one.
  virtual void update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay,
                      int64_t step, std::map<std::string, Tensor>& buffers) = 0;
  // The same for every CUDA parameter of this step at once (one device, f32), in few kernel launches.
  virtual void update_on_cuda(std::vector<ParameterUpdate>& updates) = 0;
  // The buffer names update() may create (import rejects others).
  virtual std::vector<std::string> buffer_names() const = 0;

 private:
  struct Entry {
    Tensor parameter;
    std::string name;
    size_t group = 0;
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;
  };
  std::vector<ParameterGroup> groups_;
  std::vector<Entry> entries_;
  double learning_rate_;
  double default_weight_decay_;
  int64_t step_count_ = 0;
};

// One group holding `parameters` with the optimizer's default weight decay.
std::vector<ParameterGroup> single_group(const std::vector<Tensor>& parameters);

}  // namespace pneuma::optim
