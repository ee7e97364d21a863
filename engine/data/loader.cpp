// Multi-threaded, prefetching, deterministic batch loader (see loader.h).
#include "engine/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/data/image_cache.h"
#include "engine/data/random.h"
#include "kernels/error.h"

namespace pneuma::data {

// The order one epoch visits; shared read-only by the workers building its batches.
struct EpochPlan {
  int64_t epoch = 0;
  uint64_t generation = 0;
  std::vector<size_t> order;
};

class DataLoader::Impl {
 public:
  explicit Impl(const DataLoader& owner) : owner_(owner) {
    const LoaderOptions& options = owner.options_;
    if (!options.cache_path.empty())
      cache_ = std::make_unique<ImageCache>(options.cache_path, owner.dataset_, owner.indices_, options.preprocess,
                                            std::max(options.threads, 1), options.strict);
    for (int t = 0; t < options.threads; ++t) workers_.emplace_back([this] { work(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_ready_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  void start_epoch(int64_t epoch, int64_t skip_batches) {
    auto plan = std::make_shared<EpochPlan>();
    plan->epoch = epoch;
    plan->order = owner_.epoch_order(epoch);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      plan->generation = ++generation_;
      plan_ = std::move(plan);
      next_to_build_ = next_to_deliver_ = skip_batches;
      ready_.clear();
    }
    work_ready_.notify_all();
  }

  bool next(Batch& out) {
    std::unique_lock<std::mutex> lock(mutex_);
    PNEUMA_CHECK(plan_ != nullptr, "DataLoader::next: call start_epoch first");
    const int64_t batches = owner_.batches_per_epoch();
    while (next_to_deliver_ < batches) {
      const int64_t index = next_to_deliver_;
      Slot slot;
      if (workers_.empty()) {  // no workers: build in the caller's thread
        const auto plan = plan_;
        ++next_to_build_;
        lock.unlock();
        slot = build_slot(*plan, index);
        lock.lock();
      } else {
        batch_ready_.wait(lock, [&] { return ready_.count(index) > 0; });
        slot = std::move(ready_.at(index));
        ready_.erase(index);
      }
      ++next_to_deliver_;
      work_ready_.notify_all();
      if (slot.error) std::rethrow_exception(slot.error);
      if (slot.batch.sample_indices.empty()) continue;  // every image of the batch was unreadable
      out = std::move(slot.batch);
      return true;
    }
    return false;
  }

  int64_t skipped() const {
    std::lock_guard<std::mutex> lock(bad_mutex_);
    return static_cast<int64_t>(bad_files_.size());
  }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [&] {
        return stopping_ || (plan_ && next_to_build_ < owner_.batches_per_epoch() &&
                             next_to_build_ < next_to_deliver_ + owner_.options_.prefetch_batches);
      });
      if (stopping_) return;
      const auto plan = plan_;
      const int64_t index = next_to_build_++;
      lock.unlock();
      Slot slot = build_slot(*plan, index);
      lock.lock();
      if (plan->generation != generation_) continue;  // the epoch was restarted meanwhile
      ready_.emplace(index, std::move(slot));
      batch_ready_.notify_all();
    }
  }

  Slot build_slot(const EpochPlan& plan, int64_t index) {
    Slot slot;
    try {
      slot.batch = build_batch(plan, index);
    } catch (...) {
      slot.error = std::current_exception();
    }
    return slot;
  }

  // The compact uint8 pixels of one sample (1 channel if gray), from the cache or decoded; false if unreadable
  // (and not strict).
  bool load_pixels(size_t sample, std::vector<uint8_t>& pixels, int& channels) {
    const LoaderOptions& options = owner_.options_;
    if (cache_ && cache_->read_compact(sample, pixels, channels)) return true;
    const std::string& path = owner_.dataset_.samples[sample].path;
    {
      std::lock_guard<std::mutex> lock(bad_mutex_);
      if (bad_files_.count(path)) return false;
    }
    try {
      pixels = prepare_pixels_compact(decode_image(path), options.preprocess, channels);
      return true;
    } catch (const Error& error) {
      if (options.strict) throw;
      std::lock_guard<std::mutex> lock(bad_mutex_);
      if (bad_files_.insert(path).second) std::fprintf(stderr, "warning: skipping unreadable image: %s\n", error.what());
      return false;
    }
  }

  Batch build_batch(const EpochPlan& plan, int64_t index) {
    const LoaderOptions& options = owner_.options_;
    const PreprocessOptions& pre = options.preprocess;
    const int64_t first = index * options.batch_size;
    const int64_t last = std::min<int64_t>(first + options.batch_size, static_cast<int64_t>(plan.order.size()));
    const int64_t image_size = static_cast<int64_t>(pre.height) * pre.width * pre.channels;
    Batch batch;
    batch.epoch = plan.epoch;
    batch.batch_index = index;
    batch.images = Tensor::empty({last - first, pre.height, pre.width, pre.channels});
    float* images = batch.images.data<float>();
    std::vector<int32_t> labels;
    std::vector<uint8_t> pixels;
    std::vector<float> augmented;
    for (int64_t position = first; position < last; ++position) {
      const size_t sample = plan.order[position];
      int channels = 0;
      if (!load_pixels(sample, pixels, channels)) continue;
      float* target = images + static_cast<int64_t>(labels.size()) * image_size;
      if (options.augment) {
        // Augmented at the compact channel count, replicated by the normalisation.
        const AugmentParams params =
            draw_augment_params(*options.augment, pre.height, pre.width, options.seed, plan.epoch, position);
        augmented.resize(pixels.size());
        apply_augmentation(params, *options.augment, pixels.data(), augmented.data(), pre.height, pre.width, channels);
        normalize_pixels(augmented.data(), channels, target, pre);
      } else {
        normalize_pixels(pixels.data(), channels, target, pre);
      }
      labels.push_back(owner_.dataset_.samples[sample].label);
      batch.sample_indices.push_back(sample);
    }
    const int64_t count = static_cast<int64_t>(labels.size());
    if (count < last - first) batch.images = batch.images.narrow(0, 0, count);
    batch.labels = Tensor::from_vector(labels, {count});
    return batch;
  }

  const DataLoader& owner_;
  std::unique_ptr<ImageCache> cache_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;  // guards everything below up to ready_
  std::condition_variable work_ready_, batch_ready_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  std::shared_ptr<const EpochPlan> plan_;
  int64_t next_to_build_ = 0, next_to_deliver_ = 0;
  std::map<int64_t, Slot> ready_;

  mutable std::mutex bad_mutex_;
  std::set<std::string> bad_files_;
};

DataLoader::DataLoader(const Dataset& dataset, std::vector<size_t> indices, LoaderOptions options)
    : dataset_(dataset), indices_(std::move(indices)), options_(std::move(options)) {
  PNEUMA_CHECK(!indices_.empty(), "data loader: no samples to load");
  PNEUMA_CHECK(options_.batch_size > 0, "data loader: batch size %lld", static_cast<long long>(options_.batch_size));
  PNEUMA_CHECK(options_.threads >= 0 && options_.threads <= 256, "data loader: %d threads", options_.threads);
  PNEUMA_CHECK(options_.prefetch_batches >= 1, "data loader: prefetch %d batches (at least 1)",
               options_.prefetch_batches);
  options_.preprocess.validate();
  if (options_.augment) options_.augment->validate();
  for (size_t i : indices_) {
    PNEUMA_CHECK(i < dataset_.samples.size(), "data loader: index %zu outside the dataset (%zu samples)", i,
                 dataset_.samples.size());
    const int32_t label = dataset_.samples[i].label;
    PNEUMA_CHECK(label >= 0 && label < dataset_.num_classes(), "data loader: sample %s has label %d outside [0, %d)",
                 dataset_.samples[i].path.c_str(), label, dataset_.num_classes());
  }
  impl_ = std::make_unique<Impl>(*this);
}

DataLoader::~DataLoader() = default;

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  PNEUMA_CHECK(epoch >= 0, "data loader: epoch %lld", static_cast<long long>(epoch));
  PNEUMA_CHECK(skip_batches >= 0 && skip_batches <= batches_per_epoch(),
               "data loader: cannot skip %lld batches of an epoch of %lld", static_cast<long long>(skip_batches),
               static_cast<long long>(batches_per_epoch()));
  impl_->start_epoch(epoch, skip_batches);
}

bool DataLoader::next(Batch& out) { return impl_->next(out); }

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = samples_per_epoch();
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

int64_t DataLoader::skipped_images() const { return impl_->skipped(); }

std::vector<size_t> DataLoader::epoch_order(int64_t epoch) const {
  const size_t n = indices_.size();
  std::vector<size_t> order(n);
  if (options_.balanced_sampling) {
    // Draw a class uniformly among those present, then one of its samples uniformly (with replacement).
    std::map<int32_t, std::vector<size_t>> by_class;
    for (size_t i : indices_) by_class[dataset_.samples[i].label].push_back(i);
    std::vector<const std::vector<size_t>*> classes;
    for (const auto& [label, members] : by_class) classes.push_back(&members);
    for (size_t p = 0; p < n; ++p) {
      const auto& members =
          *classes[random_below(classes.size(), options_.seed, RandomStream::balanced_sampling, epoch, p, 0)];
      order[p] = members[random_below(members.size(), options_.seed, RandomStream::balanced_sampling, epoch, p, 1)];
    }
  } else if (options_.shuffle) {
    const std::vector<size_t> permutation = random_permutation(n, options_.seed, RandomStream::epoch_order, epoch);
    for (size_t p = 0; p < n; ++p) order[p] = indices_[permutation[p]];
  } else {
    order = indices_;
  }
  return order;
}

}  // namespace pneuma::data
