// Our own model checkpoint: a safetensors file (engine/safetensors.h) holding the model's parameters and buffers
// under their own names, and in its metadata everything needed to rebuild and use the model:
//   architecture     config.architecture
//   config           the ModelConfig as JSON (models/model_config.h)
//   classes          the class names as a JSON list (config.classes names, or two for a one-logit binary model)
//   normalization    how images become inputs, as JSON (weights_import/preprocess.h)
//   padding          "same" or "symmetric": the padding the convolutions use
//   format_version   "1"
// plus any extra keys the caller adds (training details, provenance). Tensors named "train_state.…" (optimizer
// moments, epoch, RNG state — the training pipeline's) may sit beside the model's and are ignored when loading the
// model. Writing is atomic (temporary file + rename): a failure never leaves a partial file at `path`. The model and
// the extra tensors may live on any device: write_safetensors copies each to the host for writing. Loading builds
// the model on the CPU; move it with nn::Module::to.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/safetensors.h"
#include "models/image_classifier.h"
#include "models/model_config.h"
#include "weights_import/preprocess.h"

namespace pneuma::weights_import {

constexpr const char* kCheckpointFormatVersion = "1";

struct ModelCheckpoint {
  std::shared_ptr<models::ImageClassifier> model;  // built from `config`, weights loaded, in eval mode
  models::ModelConfig config;
  std::vector<std::string> class_names;
  Normalization normalization;
  std::map<std::string, std::string> metadata;  // the file's whole metadata map
};

// extra_metadata may not use the reserved keys above; extra_tensors must be named "train_state.…".
void save_model_checkpoint(const std::string& path, models::ImageClassifier& model, const models::ModelConfig& config,
                           const std::vector<std::string>& class_names, const Normalization& normalization,
                           const std::map<std::string, std::string>& extra_metadata = {},
                           const std::vector<NamedTensor>& extra_tensors = {});

ModelCheckpoint load_model_checkpoint(const std::string& path);

}  // namespace pneuma::weights_import
