// Data loader throughput (images/s) on the Kermany chest X-ray training split (5216 JPEGs, 224×224 on disk):
// output 64, 128 and 224 px, 1 or 2 worker threads (1 = the rate per core), batch 32, decoding every image vs reading the image cache, without
// and with the usual training augmentation (rotation, zoom, shift, flip, brightness). The cache is built before
// timing (its build time is reported as the counter cache_build_s, 0 when an up-to-date cache was found).
// Data: $PNEUMA_KERMANY_CSV, else ../shared/data/kermany_cxr224/labels.csv beside the source tree. Cache files
// go to $PNEUMA_BENCH_CACHE_DIR (default: the system temp folder) and are kept for later runs.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"

namespace {
using namespace pneuma::data;
namespace fs = std::filesystem;

const Dataset& kermany() {
  static const Dataset dataset = [] {
    const char* csv = std::getenv("PNEUMA_KERMANY_CSV");
    const fs::path path = csv ? fs::path(csv)
                              : fs::path(__FILE__).parent_path() / "../../shared/data/kermany_cxr224/labels.csv";
    return load_csv_dataset(path.lexically_normal().string());
  }();
  return dataset;
}

void BM_DataLoader(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const bool cached = state.range(1) != 0, augmented = state.range(2) != 0;
  const int threads = static_cast<int>(state.range(3));
  const Dataset& dataset = kermany();
  std::vector<size_t> train;
  for (size_t i = 0; i < dataset.size(); ++i)
    if (dataset.samples[i].split == "train") train.push_back(i);
  LoaderOptions options;
  options.batch_size = 32;
  options.threads = threads;
  options.prefetch_batches = 4;
  options.preprocess = PreprocessOptions::imagenet(size);
  if (augmented) {
    AugmentOptions augment;
    augment.rotation_degrees = 10;
    augment.zoom = 0.1;
    augment.shift_x = augment.shift_y = 0.1;
    augment.horizontal_flip = true;
    augment.brightness_low = 0.8;
    augment.brightness_high = 1.2;
    options.augment = augment;
  }
  if (cached) {
    const char* dir = std::getenv("PNEUMA_BENCH_CACHE_DIR");
    options.cache_path = ((dir ? fs::path(dir) : fs::temp_directory_path()) /
                          ("pneuma_bench_kermany_" + std::to_string(size) + ".cache"))
                             .string();
  }
  const auto build_start = std::chrono::steady_clock::now();
  DataLoader loader(dataset, train, options);
  const double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  Batch batch;
  const auto next_batch = [&] {
    if (!loader.next(batch)) {
      loader.start_epoch(++epoch);
      loader.next(batch);
    }
    return batch.images.dim(0);
  };
  for (int warmup = 0; warmup < 8; ++warmup) next_batch();  // drain what was prefetched before the clock started
  int64_t images = 0;
  for (auto _ : state) images += next_batch();
  state.SetItemsProcessed(images);
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  state.counters["cache_build_s"] = cached ? build_seconds : 0.0;
  state.SetLabel(std::to_string(size) + "px " + (cached ? "cache" : "decode") + (augmented ? " +augment" : "") + " " +
                 std::to_string(threads) + " thread" + (threads > 1 ? "s" : ""));
}

// Args: output size, cache, augmentation, threads. One iteration = one batch of 32.
BENCHMARK(BM_DataLoader)
    ->ArgsProduct({{64, 128, 224}, {0, 1}, {0, 1}, {1, 2}})
    ->ArgNames({"size", "cache", "augment", "threads"})
    ->Iterations(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
