#include "engine/nn/module.h"

#include <algorithm>
#include <cstdio>

namespace pneuma::nn {
namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Replaces the data behind `tensor`'s handle with `replacement`'s, so every copy of the handle sees it.
void replace_data(Tensor& tensor, const Tensor& replacement) {
  TensorImpl& impl = *tensor.impl();
  impl.storage = replacement.impl()->storage;
  impl.shape = replacement.shape();
  impl.strides = replacement.strides();
  impl.offset = replacement.storage_offset();
  impl.dtype = replacement.dtype();
  impl.grad = Tensor();
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  PNEUMA_FAIL("%s has no single-input forward", type_name().c_str());
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

void Module::set_requires_grad(bool requires_grad) { set_requires_grad_recursive(requires_grad); }

void Module::set_requires_grad_recursive(bool requires_grad) {
  for (auto& [name, parameter] : parameters_) parameter.set_requires_grad(requires_grad);
  for (auto& [name, child] : children_) child->set_requires_grad_recursive(requires_grad);
}

void Module::freeze() {
  set_requires_grad(false);
  apply([](const std::string&, Module& module) { module.on_freeze(true); });
}

void Module::unfreeze() {
  set_requires_grad(true);
  apply([](const std::string&, Module& module) { module.on_freeze(false); });
}

void Module::collect(const std::string& prefix, bool with_parameters, bool with_buffers,
                     std::vector<NamedTensor>& out) const {
  if (with_parameters)
    for (const auto& [name, tensor] : parameters_) out.emplace_back(join(prefix, name), tensor);
  if (with_buffers)
    for (const auto& [name, tensor] : buffers_) out.emplace_back(join(prefix, name), tensor);
  for (const auto& [name, child] : children_) child->collect(join(prefix, name), with_parameters, with_buffers, out);
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", true, false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
  std::vector<NamedTensor> out;
  collect("", false, true, out);
  return out;
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_buffers()) out.push_back(tensor);
  return out;
}

std::vector<NamedTensor> Module::named_tensors() const {
  std::vector<NamedTensor> out;
  collect("", true, true, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  apply([&](const std::string& name, Module& module) { out.emplace_back(name, &module); });
  return out;
}

void Module::apply(const std::function<void(const std::string&, Module&)>& visit) {
  // Explicit stack of (name, module) so the order is depth first, children in registration order.
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [name, module] = stack.back();
    stack.pop_back();
    visit(name, *module);
    for (auto it = module->children_.rbegin(); it != module->children_.rend(); ++it)
      stack.emplace_back(join(name, it->first), it->second.get());
  }
}

Tensor Module::find_tensor(const std::string& dotted_name) const {
  const size_t dot = dotted_name.find('.');
  if (dot == std::string::npos) {
    for (const auto& [name, tensor] : parameters_)
      if (name == dotted_name) return tensor;
    for (const auto& [name, tensor] : buffers_)
      if (name == dotted_name) return tensor;
    return Tensor();
  }
  const std::shared_ptr<Module> next = child(dotted_name.substr(0, dot));
  return next ? next->find_tensor(dotted_name.substr(dot + 1)) : Tensor();
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [child_name, module] : children_)
    if (child_name == name) return module;
  return nullptr;
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  PNEUMA_CHECK(module != nullptr, "%s: replacement for child '%s' is null", type_name().c_str(), name.c_str());
  for (auto& [child_name, existing] : children_)
    if (child_name == name) {
      existing = std::move(module);
      return;
    }
  PNEUMA_FAIL("%s: no child named '%s' to replace", type_name().c_str(), name.c_str());
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters()) count += tensor.numel();
  return count;
}

int64_t Module::trainable_parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters())
    if (tensor.requires_grad()) count += tensor.numel();
  return count;
}

void Module::for_each_tensor(const std::function<void(Tensor&)>& body) {
  apply([&](const std::string&, Module& module) {
    for (auto& [name, tensor] : module.parameters_) body(tensor);
    for (auto& [name, tensor] : module.buffers_) body(tensor);
  });
}

void Module::to(Device device) {
  for_each_tensor([&](Tensor& tensor) {
    if (tensor.device() != device) replace_data(tensor, tensor.to(device));
  });
}

void Module::to(DType dtype) {
  for_each_tensor([&](Tensor& tensor) {
    if (tensor.dtype() != dtype && is_floating(tensor.dtype())) replace_data(tensor, tensor.to(dtype));
  });
}

std::string Module::summary() {
  std::string text;
  apply([&](const std::string& name, Module& module) {
    int64_t own = 0;
    for (const auto& [parameter_name, tensor] : module.parameters_) own += tensor.numel();
    const size_t depth = name.empty() ? 0 : static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1;
    char line[64];
    std::snprintf(line, sizeof line, "  %lld params", static_cast<long long>(own));
    text += std::string(2 * depth, ' ') + (name.empty() ? "(root)" : name) + ": " + module.type_name() +
            (own > 0 ? line : "") + "\n";
  });
  char total[96];
  std::snprintf(total, sizeof total, "total: %lld parameters (%lld trainable)\n",
                static_cast<long long>(parameter_count()), static_cast<long long>(trainable_parameter_count()));
  return text + total;
}

void Module::check_new_name(const std::string& name) const {
  PNEUMA_CHECK(!name.empty() && name.find('.') == std::string::npos,
               "%s: invalid member name '%s' (non-empty, no dots)", type_name().c_str(), name.c_str());
  bool taken = child(name) != nullptr;
  for (const auto& [existing, tensor] : parameters_) taken |= existing == name;
  for (const auto& [existing, tensor] : buffers_) taken |= existing == name;
  PNEUMA_CHECK(!taken, "%s: the name '%s' is already registered", type_name().c_str(), name.c_str());
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name);
  PNEUMA_CHECK(tensor.defined(), "%s: parameter '%s' is undefined", type_name().c_str(), name.c_str());
  tensor.set_requires_grad(true);
  tensor.set_name(name);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name);
  PNEUMA_CHECK(tensor.defined(), "%s: buffer '%s' is undefined", type_name().c_str(), name.c_str());
  tensor.set_name(name);
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  PNEUMA_CHECK(module != nullptr, "%s: child '%s' is null", type_name().c_str(), name.c_str());
  children_.emplace_back(name, std::move(module));
}

}  // namespace pneuma::nn
