#include "engine/nn/global_avg_pool.h"

#include "engine/ops.h"

namespace pneuma::nn {

Tensor GlobalAvgPool::forward(const Tensor& input) { return global_avg_pool(input); }

}  // namespace pneuma::nn
