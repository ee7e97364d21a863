#include "engine/optim/parameter_groups.h"

namespace pneuma::optim {

std::vector<ParameterGroup> weight_decay_groups(const std::vector<std::pair<std::string, Tensor>>& named_parameters,
                                                double weight_decay, bool no_weight_decay_on_norms_and_biases) {
  ParameterGroup decayed, not_decayed;
  decayed.weight_decay = weight_decay;
  not_decayed.weight_decay = 0.0;
  for (const auto& [name, parameter] : named_parameters) {
    ParameterGroup& group = no_weight_decay_on_norms_and_biases && parameter.rank() <= 1 ? not_decayed : decayed;
    group.parameters.push_back(parameter);
    group.names.push_back(name);
  }
  std::vector<ParameterGroup> groups;
  if (!decayed.parameters.empty()) groups.push_back(std::move(decayed));
  if (!not_decayed.parameters.empty()) groups.push_back(std::move(not_decayed));
  return groups;
}

}  // namespace pneuma::optim
