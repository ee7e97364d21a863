// Class imbalance helpers: "balanced" class weights for the loss (scikit-learn's n / (k · count_k)) and the
// per-class sampling probabilities the loader's balanced sampling uses.
#pragma once
#include <cstddef>
#include <vector>

#include "engine/data/dataset.h"

namespace pneuma::data {

// weight_k = n / (k · count_k) over the samples in `indices`, k = dataset.num_classes(). A class without any
// sample in `indices` is an error naming it (its weight would be infinite).
std::vector<double> balanced_class_weights(const Dataset& dataset, const std::vector<size_t>& indices);

}  // namespace pneuma::data
