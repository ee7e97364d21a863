// Balanced class weights (see class_balance.h).
#include "engine/data/class_balance.h"

#include "kernels/error.h"

namespace pneuma::data {

std::vector<double> balanced_class_weights(const Dataset& dataset, const std::vector<size_t>& indices) {
  PNEUMA_CHECK(!indices.empty(), "balanced class weights: no samples given");
  const std::vector<int64_t> counts = class_counts(dataset, indices);
  const double n = static_cast<double>(indices.size()), k = static_cast<double>(counts.size());
  std::vector<double> weights(counts.size());
  for (size_t c = 0; c < counts.size(); ++c) {
    PNEUMA_CHECK(counts[c] > 0, "balanced class weights: class '%s' has no sample among the %zu given",
                 dataset.class_names[c].c_str(), indices.size());
    weights[c] = n / (k * static_cast<double>(counts[c]));
  }
  return weights;
}

}  // namespace pneuma::data
