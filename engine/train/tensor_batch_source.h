// A BatchSource over tensors held in memory: images f32 [N, H, W, C] and labels i32 [N], cut into batches in a
// per-epoch order. With shuffle, epoch e's order is a Fisher-Yates permutation drawn from a Philox generator at
// (seed, e) — a pure function of the two, so any epoch and batch can be reproduced on its own. The tensors are kept
// (and the batches cut) on the CPU, whatever device they come from; the trainer moves each batch to the model.
#pragma once
#include "engine/train/batch_source.h"

namespace pneuma::train {

struct TensorBatchSourceOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
};

class TensorBatchSource : public BatchSource {
 public:
  TensorBatchSource(Tensor images, Tensor labels, const TensorBatchSourceOptions& options);
  int64_t batches_per_epoch() const override;
  int64_t sample_count() const override;
  void start_epoch(int64_t epoch, int64_t skip_batches) override;
  bool next(TrainBatch& batch) override;

 private:
  Tensor images_, labels_;
  TensorBatchSourceOptions options_;
  std::vector<int64_t> order_;
  int64_t position_ = 0;  // next batch of the epoch
};

// The order of `count` samples in `epoch`: a permutation drawn from (seed, epoch), or 0..count-1 unshuffled.
std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch, bool shuffle);

}  // namespace pneuma::train
