#include "engine/nn/drop_path.h"

#include "engine/ops.h"

namespace pneuma::nn {

DropPath::DropPath(double p, Generator& generator) : p_(p), generator_(&generator) {
  PNEUMA_CHECK(p >= 0 && p < 1, "DropPath: p must be in [0, 1), got %g", p);
}

Tensor DropPath::forward(const Tensor& input) { return drop_path(input, p_, is_training(), *generator_); }

}  // namespace pneuma::nn
