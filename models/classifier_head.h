// The head ("classifier") of a built model: the head spec of the config when it has one (models/head_spec.h), else
// the architecture's own classifier in one of two naming styles:
//   torchvision  Sequence {"0": Dropout(p), "1": Linear(features → classes)}   → "classifier.1.weight"
//   timm         one Dense applying dropout(p) to its input                     → "classifier.weight"
#pragma once
#include <memory>

#include "engine/nn/module.h"
#include "models/blocks/dense.h"
#include "models/model_config.h"

namespace pneuma::models {

enum class ClassifierNaming { torchvision, timm };

std::shared_ptr<nn::Module> classifier_head(const ModelConfig& config, int64_t features, double dropout,
                                            ClassifierNaming naming, DenseInit init, Generator& generator);

}  // namespace pneuma::models
