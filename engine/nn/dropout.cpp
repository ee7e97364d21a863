#include "engine/nn/dropout.h"

#include "engine/ops.h"

namespace pneuma::nn {

Dropout::Dropout(double p, Generator& generator) : p_(p), generator_(&generator) {
  PNEUMA_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got %g", p);
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p_, is_training(), *generator_); }

}  // namespace pneuma::nn
