// Module: the base of every layer and model. A module owns named parameters (trainable leaves), named buffers
// (state that is saved but not trained, e.g. BatchNorm running statistics) and named child modules, all kept in
// registration order. Recursive listings give dotted names (`features.3.conv.0.weight`) in PyTorch's state_dict
// order: a module's own parameters and buffers first, then each child's, depth first.
//
// Tensors are shared handles: the Tensor a layer keeps in a member and the one registered here are the same
// object, so writing into either (an importer's copy_from, an optimizer step, Module::to) changes both.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace pneuma::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- running ----------------------------------------------------------------------------------
  // Single-input forward. Modules whose forward needs more than one tensor define their own call and leave
  // this one throwing.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }
  virtual std::string type_name() const { return "Module"; }

  // ---- training mode (propagated to the whole subtree) ---------------------------------------------
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- gradients and freezing (whole subtree) -----------------------------------------------------
  // Only toggles requires_grad on every parameter.
  void set_requires_grad(bool requires_grad);
  // Keras-style freezing: requires_grad false on every parameter *and* every BatchNorm2d in the subtree switches
  // to its running statistics, even in train mode, without updating them. unfreeze() undoes both.
  void freeze();
  void unfreeze();

  // ---- listings -----------------------------------------------------------------------------------
  std::vector<NamedTensor> named_parameters() const;  // recursive, dotted names
  std::vector<Tensor> parameters() const;
  std::vector<NamedTensor> named_buffers() const;     // recursive, dotted names
  std::vector<Tensor> buffers() const;
  // Parameters and buffers together, in state_dict order (per module: parameters, buffers; then children).
  std::vector<NamedTensor> named_tensors() const;
  // This module ("") and every descendant, depth first, with dotted names.
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // Calls `visit(dotted_name, module)` for this module and every descendant, depth first.
  void apply(const std::function<void(const std::string&, Module&)>& visit);

  // The parameter or buffer with this dotted name, or an undefined Tensor when there is none.
  Tensor find_tensor(const std::string& dotted_name) const;
  // The direct child with this name, or null.
  std::shared_ptr<Module> child(const std::string& name) const;
  // Puts `module` in place of the direct child `name` (same name, same position); throws when there is no such
  // child. Model surgery (e.g. a grayscale stem) uses it; members that held the old child keep the old one.
  void replace_child(const std::string& name, std::shared_ptr<Module> module);

  int64_t parameter_count() const;            // elements over all parameters
  int64_t trainable_parameter_count() const;  // elements over parameters that require grad

  // ---- placement ----------------------------------------------------------------------------------
  // Moves / converts every parameter and buffer in place (the handles stay valid; gradients are dropped).
  // Do it before building an optimizer: optimizer state buffers are not moved.
  void to(Device device);
  void to(DType dtype);

  // One line per module: dotted name, type and parameter count.
  std::string summary();

 protected:
  // Registers a trainable leaf (requires_grad is set) and returns the handle to keep in a member.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Called on every module of a subtree by freeze() (true) and unfreeze() (false).
  virtual void on_freeze(bool frozen) {}

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, bool with_parameters, bool with_buffers,
               std::vector<NamedTensor>& out) const;
  void check_new_name(const std::string& name) const;
  void set_requires_grad_recursive(bool requires_grad);
  void for_each_tensor(const std::function<void(Tensor&)>& body);

  bool training_ = true;
  std::vector<NamedTensor> parameters_;
  std::vector<NamedTensor> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace pneuma::nn
