// Loads a checkpoint's tensors into one of our models through the name map of its source (name_map.h):
//
//   auto model = models::create_model(config);
//   TensorArchive archive = read_tensor_archive("mobilenet_v2.pth");
//   LoadReport report = load_weights(*model, archive, {.source = WeightSource::torchvision});
//
// Every model tensor is matched to its source tensor, transposed into our layout and checked for shape before
// anything is written: a failed load leaves the model untouched and names, in one error, every missing, unexpected
// and wrong-shaped tensor. When most tensors fail to match, the error says the checkpoint is of another
// architecture (or width, depth, layout).
//
// The classifier (the model's "classifier." tensors, the checkpoint's classifier.* / Keras predictions/*) is
// judged separately, since fine-tuning replaces it:
//   error   a classifier that does not fit (other class count, other head) is an error like any other;
//   drop    the checkpoint's classifier tensors that do not fit are skipped and the model keeps its own values
//           for those (those that fit are loaded);
//   reinit  no classifier tensor is loaded at all: the model keeps its own, freshly initialised classifier.
// strict = false tolerates missing and unexpected tensors (reported in the LoadReport); wrong shapes outside the
// classifier are always an error. Source values of any float dtype are converted to the model's dtype.
#pragma once
#include <string>
#include <vector>

#include "models/image_classifier.h"
#include "weights_import/name_map.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {

enum class ClassifierMismatch { error, drop, reinit };
ClassifierMismatch classifier_mismatch_from_name(const std::string& name);  // "error", "drop", "reinit"

struct LoadOptions {
  WeightSource source = WeightSource::torchvision;
  ClassifierMismatch classifier_mismatch = ClassifierMismatch::error;
  bool strict = true;
};

struct LoadReport {
  int64_t loaded = 0;                          // model tensors written
  std::vector<std::string> missing;            // model tensors without a source (strict = false only)
  std::vector<std::string> unexpected;         // source tensors nothing took (strict = false only)
  std::vector<std::string> classifier_kept;    // model classifier tensors left as they were (drop / reinit)
  std::vector<std::string> classifier_unused;  // checkpoint classifier tensors not loaded (drop / reinit)
  std::vector<std::string> ignored;            // source tensors that hold nothing for us (num_batches_tracked, ...)
};

LoadReport load_weights(models::ImageClassifier& model, const TensorArchive& archive, const LoadOptions& options);

}  // namespace pneuma::weights_import
