#include "models/classifier_head.h"

#include "engine/nn/dropout.h"
#include "models/head_spec.h"

namespace pneuma::models {

std::shared_ptr<nn::Module> classifier_head(const ModelConfig& config, int64_t features, double dropout,
                                            ClassifierNaming naming, DenseInit init, Generator& generator) {
  if (!config.head.empty()) return build_head(config.head, features, config.classes, generator);
  const auto identity = kernels::Activation::identity;
  if (naming == ClassifierNaming::timm)
    return std::make_shared<Dense>(features, config.classes, identity, dropout, init, generator);
  auto head = std::make_shared<Sequence>();
  head->push_back(std::make_shared<nn::Dropout>(dropout));
  head->push_back(std::make_shared<Dense>(features, config.classes, identity, 0.0, init, generator));
  return head;
}

DenseInit efficientnet_classifier_init(const ModelConfig& config) {
  return config.classes == 1000 && config.layout != "keras" ? DenseInit::uniform_inverse_sqrt_out
                                                            : DenseInit::glorot_uniform;
}

}  // namespace pneuma::models
