// A BatchSource that hands out another source's batches with images and labels on a device. On a CUDA device the
// next batch is read and its upload queued (asynchronously, engine/transfer.h) as soon as the current one is handed
// out, so the copy of batch i+1 overlaps with the compute of batch i. On the CPU it passes the batches through
// untouched. The trainer and predict() wrap their sources in one for the device their model is on.
#pragma once
#include "engine/train/batch_source.h"

namespace pneuma::train {

class DeviceBatchSource : public BatchSource {
 public:
  DeviceBatchSource(BatchSource& inner, Device device) : inner_(inner), device_(device) {}
  int64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }
  int64_t sample_count() const override { return inner_.sample_count(); }
  void start_epoch(int64_t epoch, int64_t skip_batches) override;
  bool next(TrainBatch& batch) override;

 private:
  bool fetch(TrainBatch& batch);  // the inner source's next batch, its upload queued

  BatchSource& inner_;
  Device device_;
  bool primed_ = false;    // `ahead_` holds the result of reading one batch ahead
  bool has_ahead_ = false;
  TrainBatch ahead_;
};

}  // namespace pneuma::train
