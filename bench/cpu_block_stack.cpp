// CPU forward and training-step time of a MobileNetV2-like block stack at 224×224 (the same stack as
// bench/torch_cpu_block_stack.py builds in PyTorch; bench/run_cpu_bench.sh runs both side by side).
// Stack: stem conv3×3 s2 3→32 + BN + ReLU6, then MobileNetV2's inverted-residual stages (t, c, n, s) =
// (1,16,1,1) (6,24,2,2) (6,32,3,2).
// Arguments: threads (range 0), batch (range 1). Counters: images/s.
#include <benchmark/benchmark.h>

#include "engine/ops.h"
#include "engine/optim/optim.h"
#include "kernels/parallel.h"
#include "models/blocks/conv_norm_activation.h"
#include "models/blocks/inverted_residual.h"

namespace pneuma {
namespace {

constexpr int64_t kResolution = 224;

std::shared_ptr<nn::Sequential> build_block_stack(Generator& generator) {
  auto stack = std::make_shared<nn::Sequential>();
  models::ConvNormActivationOptions stem;
  stem.kernel_size = 3;
  stem.stride = 2;
  stack->push_back(models::conv_norm_activation(3, 32, stem, generator));
  const int64_t stages[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}};
  int64_t channels = 32;
  for (const auto& stage : stages) {
    for (int64_t i = 0; i < stage[2]; ++i) {
      models::InvertedResidualOptions block;
      block.in_channels = channels;
      block.out_channels = stage[1];
      block.stride = i == 0 ? stage[3] : 1;
      block.expand_ratio = static_cast<double>(stage[0]);
      stack->push_back(std::make_shared<models::InvertedResidual>(block, generator));
      channels = stage[1];
    }
  }
  return stack;
}

void BM_BlockStackForward(benchmark::State& state) {
  kernels::set_max_threads(static_cast<int>(state.range(0)));
  const int64_t batch = state.range(1);
  Generator generator(0);
  auto stack = build_block_stack(generator);
  stack->eval();
  Tensor images = Tensor::normal({batch, kResolution, kResolution, 3}, 0, 1, generator);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(stack->forward(images).raw_data());
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BlockStackTrainStep(benchmark::State& state) {
  kernels::set_max_threads(static_cast<int>(state.range(0)));
  const int64_t batch = state.range(1);
  Generator generator(0);
  auto stack = build_block_stack(generator);
  stack->train();
  Tensor images = Tensor::normal({batch, kResolution, kResolution, 3}, 0, 1, generator);
  optim::SgdOptions options;
  options.learning_rate = 0.01;
  options.momentum = 0.9;
  optim::Sgd optimizer(stack->parameters(), options);
  for (auto _ : state) {
    optimizer.zero_grad();
    Tensor loss = mean(stack->forward(images));
    loss.backward();
    optimizer.step();
  }
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_BlockStackForward)->ArgsProduct({{1, 2}, {8}})->ArgNames({"threads", "batch"})->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_BlockStackTrainStep)->ArgsProduct({{1, 2}, {8}})->ArgNames({"threads", "batch"})->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace pneuma

BENCHMARK_MAIN();
