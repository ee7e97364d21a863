// Batches for training and evaluation. Worker threads decode (or read from the image cache), preprocess and
// augment whole batches into a bounded queue of ready batches; next() hands them out strictly in order.
//
// Determinism: epoch e visits the loader's indices in a permutation drawn from Philox keyed by (seed, e) (or in
// the given order without shuffle; with balanced sampling, by class-uniform draws with replacement keyed the same
// way), and the augmentation of the sample at position p of epoch e is keyed by (seed, e, p). Nothing depends on
// the thread count or the prefetch depth, so start_epoch(e, k) yields exactly batches k, k+1, ... of an
// uninterrupted epoch e (resuming a killed run mid-epoch).
//
// Unreadable images (missing, truncated, corrupt): with `strict` the error reaches next(); otherwise each file
// gets one warning line on stderr, is counted in skipped_images() (distinct files) and is left out of its batch,
// which is then smaller (no substitute is drawn, so evaluation never counts an image twice and the other
// samples keep their positions). A batch with no readable image at all is passed over.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/data/augment.h"
#include "engine/data/dataset.h"
#include "engine/data/preprocess.h"
#include "engine/tensor.h"

namespace pneuma::data {

struct Batch {
  Tensor images;                      // f32 [N, H, W, C], normalised
  Tensor labels;                      // i32 [N]
  std::vector<size_t> sample_indices;  // dataset indices of the N images, in batch order
  int64_t epoch = 0, batch_index = 0;  // where this batch sits in its epoch
};

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int threads = 2;           // worker threads; 0 = build each batch inside next(), in the caller's thread
  int prefetch_batches = 4;  // batches built ahead of the consumer (ready or in progress)
  std::optional<AugmentOptions> augment;
  PreprocessOptions preprocess;
  std::string cache_path;          // "" = decode every time; see image_cache.h
  bool balanced_sampling = false;  // each draw: a class uniformly, then a sample of it uniformly
  bool strict = false;             // an unreadable image is an error instead of a skip
};

class DataLoader {
 public:
  // Copies `dataset`; `indices` are the samples one epoch covers (e.g. Splits::train).
  DataLoader(const Dataset& dataset, std::vector<size_t> indices, LoaderOptions options);
  ~DataLoader();  // stops and joins the workers
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Begins epoch `epoch` at batch `skip_batches` (0 for a fresh epoch); abandons any epoch in progress.
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch; false at its end. Rethrows a worker's error as pneuma::Error. One
  // consumer thread at a time.
  bool next(Batch& out);

  int64_t batches_per_epoch() const;
  int64_t samples_per_epoch() const { return static_cast<int64_t>(indices_.size()); }
  int64_t skipped_images() const;  // distinct unreadable files met so far
  const LoaderOptions& options() const { return options_; }
  // Dataset indices in the order epoch `epoch` visits them (the loader's sampling, exposed for tests/tools).
  std::vector<size_t> epoch_order(int64_t epoch) const;

 private:
  class Impl;
  Dataset dataset_;  // a copy, so the caller's dataset may go away
  std::vector<size_t> indices_;
  LoaderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pneuma::data
