// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_).
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace pneuma::optim {

// The L2 norm of all defined gradients together (parameters without a gradient are skipped).
double gradient_norm(const std::vector<Tensor>& parameters);

// Scales every defined gradient in place by max_norm / (norm + 1e-6) when that coefficient is < 1, and returns
// the norm before clipping. A non-finite norm leaves the gradients untouched (the caller should skip the step).
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace pneuma::optim
