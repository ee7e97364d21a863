#include "engine/optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"

namespace pneuma::optim {

Optimizer::Optimizer(std::vector<ParameterGroup> groups, double learning_rate, double default_weight_decay)
    : groups_(std::move(groups)), learning_rate_(learning_rate), default_weight_decay_(default_weight_decay) {
  PNEUMA_CHECK(learning_rate >= 0 && std::isfinite(learning_rate), "optimizer: invalid learning rate %g",
               learning_rate);
  PNEUMA_CHECK(default_weight_decay >= 0, "optimizer: invalid weight decay %g", default_weight_decay);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParameterGroup& group = groups_[g];
    PNEUMA_CHECK(group.names.empty() || group.names.size() == group.parameters.size(),
                 "optimizer: group %zu has %zu names for %zu parameters", g, group.names.size(),
                 group.parameters.size());
    PNEUMA_CHECK(group.weight_decay.value_or(0.0) >= 0 && group.lr_multiplier >= 0,
                 "optimizer: group %zu has a negative weight decay or learning-rate multiplier", g);
    for (size_t i = 0; i < group.parameters.size(); ++i) {
      const Tensor& parameter = group.parameters[i];
      PNEUMA_CHECK(parameter.defined() && is_floating(parameter.dtype()),
                   "optimizer: parameter %zu of group %zu is undefined or not floating point", i, g);
      PNEUMA_CHECK(parameter.is_contiguous(), "optimizer: parameter %zu of group %zu is not contiguous", i, g);
      for (const Entry& existing : entries_)
        PNEUMA_CHECK(existing.parameter.impl() != parameter.impl(),
                     "optimizer: parameter '%s' appears twice", existing.name.c_str());
      Entry entry;
      entry.parameter = parameter;
      entry.name = group.names.empty() ? (parameter.name().empty() ? "parameter" : parameter.name()) : group.names[i];
      entry.group = g;
      entries_.push_back(std::move(entry));
    }
  }
}

void Optimizer::set_learning_rate(double learning_rate) {
  PNEUMA_CHECK(learning_rate >= 0 && std::isfinite(learning_rate), "optimizer: invalid learning rate %g",
               learning_rate);
  learning_rate_ = learning_rate;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<ParameterUpdate> cuda_updates;
  for (Entry& entry : entries_) {
    const Tensor& grad = entry.parameter.grad();
    if (!grad.defined()) continue;
    PNEUMA_CHECK(grad.shape() == entry.parameter.shape() && grad.dtype() == entry.parameter.dtype() &&
                     grad.device() == entry.parameter.device(),
                 "%s: gradient %s does not match parameter '%s' %s", type_name().c_str(), grad.describe().c_str(),
                 entry.name.c_str(), entry.parameter.describe().c_str());
    const ParameterGroup& group = groups_[entry.group];
    ParameterUpdate update;
    update.parameter = entry.parameter;
    update.grad = grad.contiguous();
    update.learning_rate = learning_rate_ * group.lr_multiplier;
    update.weight_decay = group.weight_decay.value_or(default_weight_decay_);
    update.step = entry.step + 1;
    update.buffers = &entry.buffers;
    if (entry.parameter.device().is_cuda()) {
      PNEUMA_CHECK(entry.parameter.dtype() == DType::f32, "%s: parameter '%s' is %s; the CUDA updates take f32",
                   type_name().c_str(), entry.name.c_str(), entry.parameter.describe().c_str());
      PNEUMA_CHECK(cuda_updates.empty() || cuda_updates.front().parameter.device() == entry.parameter.device(),
                   "%s: parameter '%s' is on %s but others are on %s; one optimizer updates one GPU",
                   type_name().c_str(), entry.name.c_str(), entry.parameter.device().name().c_str(),
                   cuda_updates.front().parameter.device().name().c_str());
      cuda_updates.push_back(std::move(update));
    } else {
      this->update(update.parameter, update.grad, update.learning_rate, update.weight_decay, update.step,
                   entry.buffers);
    }
    entry.step += 1;
  }
  if (!cuda_updates.empty()) update_on_cuda(cuda_updates);
  ++step_count_;
}

void Optimizer::zero_grad() {
  for (Entry& entry : entries_) entry.parameter.zero_grad();
}

Tensor Optimizer::buffer(size_t index, const std::string& buffer_name) const {
  const auto& buffers = entries_.at(index).buffers;
  auto found = buffers.find(buffer_name);
  return found == buffers.end() ? Tensor() : found->second;
}

OptimizerState Optimizer::export_state() const {
  OptimizerState state;
  state.scalars["learning_rate"] = learning_rate_;
  state.scalars["step_count"] = static_cast<double>(step_count_);
  for (size_t index = 0; index < entries_.size(); ++index) {
    const Entry& entry = entries_[index];
    const std::string prefix = std::to_string(index) + "." + entry.name + ".";
    state.scalars[prefix + "step"] = static_cast<double>(entry.step);
    for (const auto& [buffer_name, tensor] : entry.buffers) state.tensors[prefix + buffer_name] = tensor.clone();
  }
  return state;
}

void Optimizer::import_state(const OptimizerState& state) {
  // Splits "<index>.<name>.<last>" into its parts; the name may itself contain dots.
  auto parse = [&](const std::string& key, size_t& index, std::string& name, std::string& last) {
    const size_t first_dot = key.find('.'), last_dot = key.rfind('.');
    PNEUMA_CHECK(first_dot != std::string::npos && last_dot > first_dot,
                 "%s state: unexpected key '%s'", type_name().c_str(), key.c_str());
    const std::string index_text = key.substr(0, first_dot);
    PNEUMA_CHECK(!index_text.empty() && index_text.find_first_not_of("0123456789") == std::string::npos,
                 "%s state: unexpected key '%s'", type_name().c_str(), key.c_str());
    index = std::stoul(index_text);
    name = key.substr(first_dot + 1, last_dot - first_dot - 1);
    last = key.substr(last_dot + 1);
    PNEUMA_CHECK(index < entries_.size(), "%s state: key '%s' names parameter %zu, but there are only %zu",
                 type_name().c_str(), key.c_str(), index, entries_.size());
    PNEUMA_CHECK(name == entries_[index].name, "%s state: key '%s' is for '%s', parameter %zu is '%s'",
                 type_name().c_str(), key.c_str(), name.c_str(), index, entries_[index].name.c_str());
  };

  std::vector<Entry> restored = entries_;
  for (Entry& entry : restored) {
    entry.step = 0;
    entry.buffers.clear();
  }
  for (const auto& [key, value] : state.scalars) {
    if (key == "learning_rate" || key == "step_count") continue;
    size_t index;
    std::string name, last;
    parse(key, index, name, last);
    PNEUMA_CHECK(last == "step", "%s state: unexpected scalar '%s'", type_name().c_str(), key.c_str());
    restored[index].step = static_cast<int64_t>(value);
  }
  const std::vector<std::string> known = buffer_names();
  for (const auto& [key, tensor] : state.tensors) {
    size_t index;
    std::string name, buffer_name;
    parse(key, index, name, buffer_name);
    PNEUMA_CHECK(std::find(known.begin(), known.end(), buffer_name) != known.end(),
                 "%s state: '%s' is not a buffer of this optimizer", type_name().c_str(), key.c_str());
    const Tensor& parameter = restored[index].parameter;
    PNEUMA_CHECK(tensor.shape() == parameter.shape(), "%s state: '%s' has shape %s, parameter '%s' has %s",
                 type_name().c_str(), key.c_str(), shape_string(tensor.shape()).c_str(), name.c_str(),
                 shape_string(parameter.shape()).c_str());
    Tensor copy = Tensor::empty(parameter.shape(), parameter.dtype(), parameter.device());
    copy.copy_from(tensor);
    restored[index].buffers[buffer_name] = copy;
  }
  auto scalar = [&](const char* key, double fallback) {
    auto found = state.scalars.find(key);
    return found == state.scalars.end() ? fallback : found->second;
  };
  set_learning_rate(scalar("learning_rate", learning_rate_));
  step_count_ = static_cast<int64_t>(scalar("step_count", 0));
  entries_ = std::move(restored);
}

std::vector<ParameterGroup> single_group(const std::vector<Tensor>& parameters) {
  ParameterGroup group;
  group.parameters = parameters;
  return {group};
}

}  // namespace pneuma::optim
