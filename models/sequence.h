// The container of every model in models/: an nn::Sequential (children "0", "1", … run in order, as in
// torch.nn.Sequential) whose forward runs each child through traced_call so a ForwardTrace sees every layer.
// add() registers a child under an explicit name instead (timm's "conv_stem", "bn1", …); children still run in
// registration order.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/sequential.h"

namespace pneuma::models {

class Sequence : public nn::Sequential {
 public:
  Sequence() = default;

  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }

  Tensor forward(const Tensor& input) override;
};

}  // namespace pneuma::models
