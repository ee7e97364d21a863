#include "engine/nn/flatten.h"

#include "engine/ops.h"

namespace pneuma::nn {

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_axis_); }

}  // namespace pneuma::nn
