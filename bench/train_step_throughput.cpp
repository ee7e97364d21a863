// Training-step throughput (images/s) of the ImageNet-sized MobileNetV2 (3 classes, as in the main job) on the CPU,
// batch 32, at the resolutions the recipes use, with the whole network trainable ("fine-tune") and with the
// backbone frozen ("frozen": BatchNorm on running statistics, gradients only for the classifier), 1 and 2 threads.
// bench/run_pipeline_bench.sh runs it beside bench/data_loader_throughput.cpp so the two rates can be compared:
// a run is limited by the loader when its images/s per core is below the step's images/s.
// Arguments: resolution, threads, frozen (0/1). One iteration = one Adam step on one batch of 32.
#include <benchmark/benchmark.h>

#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "kernels/parallel.h"
#include "models/freezing.h"
#include "models/registry.h"

namespace pneuma {
namespace {

constexpr int64_t kBatch = 32;

void BM_MobileNetV2TrainStep(benchmark::State& state) {
  const int64_t resolution = state.range(0);
  kernels::set_max_threads(static_cast<int>(state.range(1)));
  const bool frozen = state.range(2) != 0;
  Generator generator(0);
  std::shared_ptr<models::ImageClassifier> model =
      models::create_model({.architecture = "mobilenet_v2", .classes = 3}, generator);
  model->train();
  if (frozen) models::freeze_backbone(*model);
  std::vector<Tensor> trainable;
  for (const Tensor& parameter : model->parameters())
    if (parameter.requires_grad()) trainable.push_back(parameter);
  optim::Adam optimizer(trainable, optim::AdamOptions{});
  const Tensor images = Tensor::normal({kBatch, resolution, resolution, 3}, 0, 1, generator);
  std::vector<int32_t> labels(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % 3);
  const Tensor targets = Tensor::from_vector(labels, {kBatch});
  const auto step = [&] {
    optimizer.zero_grad();
    Tensor loss = cross_entropy(model->forward(images), targets);
    loss.backward();
    optimizer.step();
  };
  step();  // warm-up: the first step touches fresh pages for every activation (seconds at 224 px)
  for (auto _ : state) step();
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::to_string(resolution) + "px " + (frozen ? "frozen" : "fine-tune") + " " +
                 std::to_string(state.range(1)) + " thread" + (state.range(1) > 1 ? "s" : ""));
}

BENCHMARK(BM_MobileNetV2TrainStep)
    ->ArgsProduct({{64, 96, 128, 224}, {1, 2}, {0, 1}})
    ->ArgNames({"size", "threads", "frozen"})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0)
    ->UseRealTime();

}  // namespace
}  // namespace pneuma

BENCHMARK_MAIN();
