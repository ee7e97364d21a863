// Builds optimizer parameter groups from named parameters (Module::named_parameters()).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/optim/optimizer.h"

namespace pneuma::optim {

// With no_weight_decay_on_norms_and_biases, parameters of rank ≤ 1 (biases, BatchNorm γ/β) go to a second group
// with weight decay 0 and all others to a group with `weight_decay`; otherwise one group with `weight_decay`.
// Empty groups are left out; names are kept; every parameter is included (those without a gradient are simply
// skipped by step(), so parameters unfrozen later are trained without rebuilding the optimizer).
std::vector<ParameterGroup> weight_decay_groups(const std::vector<std::pair<std::string, Tensor>>& named_parameters,
                                                double weight_decay, bool no_weight_decay_on_norms_and_biases = true);

}  // namespace pneuma::optim
