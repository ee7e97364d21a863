// In-memory batches in a reproducible per-epoch order (see tensor_batch_source.h).
#include "engine/train/tensor_batch_source.h"

#include <cstring>
#include <numeric>

#include "engine/rng.h"
#include "kernels/error.h"

namespace pneuma::train {

std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  // One stream per epoch: the seed mixed with the epoch number, offset 0.
  Generator generator(seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(epoch + 1)));
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[generator.integer(0, i + 1)]);
  return order;
}

TensorBatchSource::TensorBatchSource(Tensor images, Tensor labels, const TensorBatchSourceOptions& options)
    : images_(images.to(Device::cpu()).contiguous()),
      labels_(labels.to(Device::cpu()).contiguous()),
      options_(options) {
  PNEUMA_CHECK(images_.rank() == 4 && images_.dtype() == DType::f32, "batch source: images must be f32 [N, H, W, C], got %s",
               images_.describe().c_str());
  PNEUMA_CHECK(labels_.rank() == 1 && labels_.dtype() == DType::i32 && labels_.dim(0) == images_.dim(0),
               "batch source: labels must be i32 [%lld], got %s", static_cast<long long>(images_.dim(0)),
               labels_.describe().c_str());
  PNEUMA_CHECK(options.batch_size >= 1, "batch source: batch size must be at least 1");
  PNEUMA_CHECK(batches_per_epoch() > 0, "batch source: %lld samples make no batch of %lld",
               static_cast<long long>(images_.dim(0)), static_cast<long long>(options.batch_size));
}

int64_t TensorBatchSource::batches_per_epoch() const {
  const int64_t n = images_.dim(0), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t TensorBatchSource::sample_count() const {
  return options_.drop_last ? batches_per_epoch() * options_.batch_size : images_.dim(0);
}

void TensorBatchSource::start_epoch(int64_t epoch, int64_t skip_batches) {
  PNEUMA_CHECK(skip_batches >= 0 && skip_batches <= batches_per_epoch(),
               "batch source: cannot skip %lld of %lld batches", static_cast<long long>(skip_batches),
               static_cast<long long>(batches_per_epoch()));
  order_ = epoch_order(images_.dim(0), options_.seed, epoch, options_.shuffle);
  position_ = skip_batches;
}

bool TensorBatchSource::next(TrainBatch& batch) {
  PNEUMA_CHECK(!order_.empty(), "batch source: next() before start_epoch()");
  if (position_ >= batches_per_epoch()) return false;
  const int64_t begin = position_ * options_.batch_size;
  const int64_t rows = std::min<int64_t>(options_.batch_size, images_.dim(0) - begin);
  const int64_t h = images_.dim(1), w = images_.dim(2), c = images_.dim(3), row_size = h * w * c;
  batch.images = Tensor::empty({rows, h, w, c});
  batch.labels = Tensor::empty({rows}, DType::i32);
  batch.sample_indices.assign(order_.begin() + begin, order_.begin() + begin + rows);
  batch.position = position_;
  const float* source = images_.data<float>();
  const int32_t* labels = labels_.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t index = batch.sample_indices[r];
    std::memcpy(batch.images.data<float>() + r * row_size, source + index * row_size, row_size * sizeof(float));
    batch.labels.data<int32_t>()[r] = labels[index];
  }
  ++position_;
  return true;
}

}  // namespace pneuma::train
