#include "engine/nn/sequential.h"

namespace pneuma::nn {

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& module : modules) push_back(module);
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, child] : named_children()) x = child->forward(x);
  return x;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t index) const {
  PNEUMA_CHECK(index < size(), "Sequential: index %zu out of range (size %zu)", index, size());
  return named_children()[index].second;
}

}  // namespace pneuma::nn
