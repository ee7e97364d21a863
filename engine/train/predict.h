// Running a classifier over every batch of a source in inference mode: class probabilities, labels and the mean
// loss. Test-time augmentation by horizontal flip averages the probabilities of each image and its mirror.
#pragma once
#include <vector>

#include "engine/nn/module.h"
#include "engine/train/batch_source.h"
#include "engine/train/loss.h"

namespace pneuma::train {

struct PredictOptions {
  bool tta_flip = false;
  const LossOptions* loss = nullptr;  // when set, the mean loss over the source is computed too
};

struct Predictions {
  Tensor probabilities;                 // f32 [N, K], or [N, 1] for a 1-output (sigmoid) head; on the CPU
  Tensor labels;                        // i32 [N], on the CPU
  std::vector<int64_t> sample_indices;  // dataset indices of the rows
  double loss = 0;                      // mean over samples (0 without PredictOptions::loss)
};

// Runs on the device the model is on (the batches are moved there, see device_batch_source.h). Puts the model in
// eval mode for the pass and restores its previous mode afterwards.
Predictions predict(nn::Module& model, BatchSource& source, const PredictOptions& options = {});

// Images [N, H, W, C] mirrored left-right (a copy, on the images' device).
Tensor flip_horizontally(const Tensor& images);

}  // namespace pneuma::train
