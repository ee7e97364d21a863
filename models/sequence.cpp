#include "models/sequence.h"

#include "models/forward_trace.h"

namespace pneuma::models {

Tensor Sequence::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, child] : named_children()) x = traced_call(*child, x);
  return x;
}

}  // namespace pneuma::models
