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

// The initialisation of an EfficientNet classifier: torchvision's and timm's uniform(±1/sqrt(classes)) for their
// own 1000-class ImageNet layout, Keras' Glorot uniform otherwise. The 1/sqrt(classes) rule is made for 1000
// classes: for a new 2- or 3-class head it draws weights of ±0.6, whose initial logits reach tens (cross-entropy
// 5 and more at the first step, further amplified by a large dropout) and training from scratch stalls on them.
DenseInit efficientnet_classifier_init(const ModelConfig& config);

}  // namespace pneuma::models
