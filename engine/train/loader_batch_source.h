// A BatchSource over engine/data's DataLoader (decoding, caching, augmentation and prefetching on worker threads).
// The loader keys an epoch's order and every augmentation by (seed, epoch, position), which is what the trainer's
// exact resume needs.
#pragma once
#include <memory>

#include "engine/data/loader.h"
#include "engine/train/batch_source.h"

namespace pneuma::train {

class LoaderBatchSource : public BatchSource {
 public:
  LoaderBatchSource(const data::Dataset& dataset, std::vector<size_t> indices, data::LoaderOptions options);
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  int64_t sample_count() const override { return loader_.samples_per_epoch(); }
  void start_epoch(int64_t epoch, int64_t skip_batches) override { loader_.start_epoch(epoch, skip_batches); }
  bool next(TrainBatch& batch) override;
  int64_t skipped_images() const { return loader_.skipped_images(); }

 private:
  data::DataLoader loader_;
};

}  // namespace pneuma::train
