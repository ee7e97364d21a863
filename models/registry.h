// The model zoo: create_model() builds any architecture from a ModelConfig (models/model_config.h) by looking its
// name up in one explicit table in registry.cpp (no static-initialiser registration: static libraries drop those).
//
//   auto model = pneuma::models::create_model({.architecture = "mobilenet_v2", .classes = 3});
//   Tensor logits = (*model)(images);  // images NHWC
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/image_classifier.h"
#include "models/model_config.h"

namespace pneuma::models {

// Builds the model with freshly initialised weights drawn from `generator`. An unknown architecture is an error
// listing the known ones; so is a config the architecture cannot take.
std::shared_ptr<ImageClassifier> create_model(const ModelConfig& config, Generator& generator = default_generator());

// The same model without random draws: every randomly initialised weight is zero (batch norms keep their defaults).
// Much faster for the big variants; for an importer that overwrites every tensor, and for looking at a model's
// structure (names, shapes, counts, cost).
std::shared_ptr<ImageClassifier> create_model_uninitialized(const ModelConfig& config);

// The architecture names, in table order.
std::vector<std::string> model_names();

}  // namespace pneuma::models
