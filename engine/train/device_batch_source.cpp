// Batches moved onto the model's device, one batch ahead (see device_batch_source.h).
#include "engine/train/device_batch_source.h"

#include <utility>

namespace pneuma::train {

void DeviceBatchSource::start_epoch(int64_t epoch, int64_t skip_batches) {
  inner_.start_epoch(epoch, skip_batches);
  primed_ = false;
  has_ahead_ = false;
  ahead_ = TrainBatch();
}

bool DeviceBatchSource::fetch(TrainBatch& batch) {
  if (!inner_.next(batch)) return false;
  batch.images = batch.images.to(device_, /*non_blocking=*/true);
  batch.labels = batch.labels.to(device_, /*non_blocking=*/true);
  return true;
}

bool DeviceBatchSource::next(TrainBatch& batch) {
  if (device_.is_cpu()) {
    if (!inner_.next(batch)) return false;
    batch.images = batch.images.to(device_);  // the batch itself when it is on the CPU already
    batch.labels = batch.labels.to(device_);
    return true;
  }
  if (!primed_) {
    has_ahead_ = fetch(ahead_);
    primed_ = true;
  }
  if (!has_ahead_) return false;
  batch = std::move(ahead_);
  ahead_ = TrainBatch();
  has_ahead_ = fetch(ahead_);  // queued now: copied while the caller computes on `batch`
  return true;
}

}  // namespace pneuma::train
