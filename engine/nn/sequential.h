// Runs its children in order; they are named by position ("0", "1", …) as in torch.nn.Sequential.
#pragma once
#include <memory>
#include <vector>

#include "engine/nn/module.h"

namespace pneuma::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  // Appends `module` under the name of its position and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(size()), std::move(module));
  }

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }

  size_t size() const { return named_children().size(); }
  const std::shared_ptr<Module>& operator[](size_t index) const;
  // The child at `index` as an M; throws if it is another type.
  template <class M>
  std::shared_ptr<M> at(size_t index) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[index]);
    PNEUMA_CHECK(typed != nullptr, "Sequential: child %zu is a %s", index, (*this)[index]->type_name().c_str());
    return typed;
  }
};

}  // namespace pneuma::nn
