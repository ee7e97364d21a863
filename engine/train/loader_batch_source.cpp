// DataLoader batches as TrainBatch (see loader_batch_source.h).
#include "engine/train/loader_batch_source.h"

namespace pneuma::train {

LoaderBatchSource::LoaderBatchSource(const data::Dataset& dataset, std::vector<size_t> indices,
                                     data::LoaderOptions options)
    : loader_(dataset, std::move(indices), std::move(options)) {}

bool LoaderBatchSource::next(TrainBatch& batch) {
  data::Batch loaded;
  if (!loader_.next(loaded)) return false;
  batch.images = loaded.images;
  batch.labels = loaded.labels;
  batch.sample_indices.assign(loaded.sample_indices.begin(), loaded.sample_indices.end());
  batch.position = loaded.batch_index;
  return true;
}

}  // namespace pneuma::train
