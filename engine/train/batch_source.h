// What the training loop reads batches from. An epoch is a fixed sequence of batches that depends only on the
// source's seed and the epoch number, so start_epoch(epoch, skip) followed by next() gives exactly the batches an
// uninterrupted epoch would have given from position `skip` on — this is what makes --resume exact.
// Implementations: TensorBatchSource (in memory, for tests) and LoaderBatchSource (engine/data's DataLoader).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pneuma::train {

struct TrainBatch {
  Tensor images;                        // f32 [N, H, W, C]
  Tensor labels;                        // i32 [N]
  std::vector<int64_t> sample_indices;  // dataset indices of the rows (for reports and messages)
  int64_t position = 0;                 // the batch's index in its epoch (a source may pass over empty batches)
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  virtual int64_t sample_count() const = 0;  // samples seen in one epoch
  // Positions the source at batch `skip_batches` of `epoch` (0-based).
  virtual void start_epoch(int64_t epoch, int64_t skip_batches) = 0;
  // The next batch of the epoch; false at its end.
  virtual bool next(TrainBatch& batch) = 0;
};

}  // namespace pneuma::train
