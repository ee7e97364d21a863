// Whole-model training throughput on the GPU: MobileNetV2 and EfficientNetV2-S (torchvision layouts, 1000 classes,
// training mode with their default dropout / stochastic depth), one step = forward + cross-entropy + backward +
// optimizer step on one fixed batch already on the device (no data loader), fp32 NHWC. The PyTorch side of the same
// measurement is bench/torch_gpu_train_step.py; bench/run_gpu_bench.sh runs both and compares.
//
// Method: `--warmup` steps (allocator cache filled, cuDNN algorithms found), then one timed step to size the rounds,
// then `--rounds` rounds of n steps each (n from --steps, lowered so a row stays near --seconds-per-row), each round
// timed on the host between two device synchronisations, so host overhead counts as it does for PyTorch eager.
// images/s is the median round's. Peak memory: the device caching allocator's peak bytes handed to tensors since
// the model was moved to the GPU (comparable to torch.cuda.max_memory_allocated), and the device-wide memory in use
// at the end minus before the model was built (cudaMemGetInfo: every cudaMalloc, caches and cuDNN workspaces too).
//
// Output: one JSON object per line on stdout, one per (model, conv implementation, precision); a row that cannot be
// measured has "status": "absent" or "error" and a "reason". bf16 mixed precision is not in the engine yet, so
// --precision bf16 gives an "absent" row instead of a number.
//
// Usage: cuda_train_step [--model mobilenet_v2,efficientnet_v2_s] [--conv-impl native,cudnn] [--precision fp32,bf16]
//                        [--optimizer sgd|adam] [--batch 128] [--resolution 224] [--warmup 5] [--steps 10]
//                        [--rounds 3] [--seconds-per-row 20]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if PNEUMA_WITH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/allocator.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/error.h"
#include "kernels/gemm.h"
#include "models/registry.h"

namespace pneuma {
namespace {

struct Options {
  std::vector<std::string> models{"mobilenet_v2", "efficientnet_v2_s"};
  std::vector<std::string> conv_impls{"native", "cudnn"};
  std::vector<std::string> precisions{"fp32", "bf16"};
  std::string optimizer = "sgd";
  int64_t batch = 128, resolution = 224;
  int warmup = 5, steps = 10, rounds = 3;
  double seconds_per_row = 20;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

int64_t parse_positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  PNEUMA_CHECK(end != text.c_str() && *end == '\0' && value > 0, "%s needs a positive integer, got '%s'",
               flag.c_str(), text.c_str());
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    PNEUMA_CHECK(i + 1 < argc, "%s needs a value (see the usage at the top of bench/cuda_train_step.cpp)",
                 flag.c_str());
    const std::string value = argv[++i];
    if (flag == "--model") options.models = split_list(value);
    else if (flag == "--conv-impl") options.conv_impls = split_list(value);
    else if (flag == "--precision") options.precisions = split_list(value);
    else if (flag == "--optimizer") options.optimizer = value;
    else if (flag == "--batch") options.batch = parse_positive(flag, value);
    else if (flag == "--resolution") options.resolution = parse_positive(flag, value);
    else if (flag == "--warmup") options.warmup = static_cast<int>(parse_positive(flag, value));
    else if (flag == "--steps") options.steps = static_cast<int>(parse_positive(flag, value));
    else if (flag == "--rounds") options.rounds = static_cast<int>(parse_positive(flag, value));
    else if (flag == "--seconds-per-row") options.seconds_per_row = static_cast<double>(parse_positive(flag, value));
    else PNEUMA_FAIL("unknown option '%s' (see the usage at the top of bench/cuda_train_step.cpp)", flag.c_str());
  }
  PNEUMA_CHECK(options.optimizer == "sgd" || options.optimizer == "adam", "--optimizer is sgd or adam, got '%s'",
               options.optimizer.c_str());
  for (const std::string& precision : options.precisions)
    PNEUMA_CHECK(precision == "fp32" || precision == "bf16", "--precision takes fp32 and/or bf16, got '%s'",
                 precision.c_str());
  for (const std::string& impl : options.conv_impls) conv_implementation_from_name(impl);  // throws on a typo
  const std::vector<std::string> known = models::model_names();
  for (const std::string& model : options.models)
    PNEUMA_CHECK(std::find(known.begin(), known.end(), model) != known.end(), "--model: unknown architecture '%s'",
                 model.c_str());
  return options;
}

size_t device_bytes_in_use() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return total_bytes - free_bytes;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json row_header(const Options& options, const std::string& model, const std::string& impl,
                          const std::string& precision) {
  return {{"side", "pneuma"},
          {"model", model},
          {"conv_impl", impl},
          {"precision", precision},
          {"batch", options.batch},
          {"resolution", options.resolution},
          {"optimizer", options.optimizer},
          {"layout", "NHWC"}};
}

// One (model, conv implementation) fp32 row: builds the model, trains it on one fixed batch and measures.
nlohmann::json measure(const Options& options, const std::string& architecture, const std::string& impl) {
  nlohmann::json row = row_header(options, architecture, impl, "fp32");
  set_conv_implementation(conv_implementation_from_name(impl));
  row["matmul_precision"] =
      kernels::cuda::matmul_precision() == kernels::cuda::MatmulPrecision::tf32 ? "tf32" : "fp32";
  const Device device = Device::cuda();
  Allocator& allocator = device_allocator(device);
  allocator.release_cached();  // the previous row's blocks must not count as this row's device memory
  CUDA_CHECK(cudaDeviceSynchronize());
  const size_t device_before = device_bytes_in_use();

  Generator generator(2024);
  models::ModelConfig config;
  config.architecture = architecture;
  config.classes = 1000;
  std::shared_ptr<models::ImageClassifier> model = models::create_model(config, generator);
  int64_t parameters = 0;
  for (const Tensor& parameter : model->parameters()) parameters += parameter.numel();
  row["parameters"] = parameters;
  model->to(device);
  model->train();
  const Tensor images =
      Tensor::normal({options.batch, options.resolution, options.resolution, 3}, 0, 1, generator).to(device);
  std::vector<int32_t> labels(static_cast<size_t>(options.batch));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>((i * 7919) % 1000);
  const Tensor targets = Tensor::from_vector(labels, {options.batch}).to(device);

  std::unique_ptr<optim::Optimizer> optimizer;
  if (options.optimizer == "sgd")
    optimizer = std::make_unique<optim::Sgd>(model->parameters(),
                                             optim::SgdOptions{.learning_rate = 0.01, .momentum = 0.9});
  else
    optimizer = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.learning_rate = 1e-3});
  row["optimizer_settings"] = options.optimizer == "sgd" ? "lr 0.01, momentum 0.9" : "lr 1e-3, betas (0.9, 0.999)";

  CUDA_CHECK(cudaDeviceSynchronize());
  allocator.reset_peak();
  Tensor loss;
  auto step = [&] {
    optimizer->zero_grad();
    loss = cross_entropy(model->forward(images), targets);
    loss.backward();
    optimizer->step();
  };
  const auto warmup_start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.warmup; ++i) step();
  CUDA_CHECK(cudaDeviceSynchronize());
  row["warmup_seconds"] = seconds_since(warmup_start);
  row["first_loss"] = loss.item();

  auto one_step_start = std::chrono::steady_clock::now();
  step();
  CUDA_CHECK(cudaDeviceSynchronize());
  const double step_estimate = seconds_since(one_step_start);
  const int per_round = static_cast<int>(std::clamp<double>(
      std::floor(options.seconds_per_row / options.rounds / step_estimate), 2.0, static_cast<double>(options.steps)));
  std::vector<double> round_seconds;
  for (int round = 0; round < options.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_round; ++i) step();
    CUDA_CHECK(cudaDeviceSynchronize());
    round_seconds.push_back(seconds_since(start) / per_round);
  }
  const double final_loss = loss.item();
  PNEUMA_CHECK(std::isfinite(final_loss), "%s (%s): the loss is not finite after training (%g)",
               architecture.c_str(), impl.c_str(), final_loss);
  std::vector<double> sorted = round_seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const AllocatorStats stats = allocator.stats();
  row["status"] = "ok";
  row["steps_per_round"] = per_round;
  std::vector<double> round_ms;
  for (const double seconds : round_seconds) round_ms.push_back(seconds * 1e3);
  row["round_ms_per_step"] = round_ms;
  row["ms_per_step"] = median * 1e3;
  row["images_per_s"] = static_cast<double>(options.batch) / median;
  row["final_loss"] = final_loss;
  row["peak_allocated_bytes"] = stats.peak_bytes_in_use;
  row["device_memory_used_bytes"] = device_bytes_in_use() - device_before;
  return row;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "cuda_train_step: no CUDA device\n");
    return 1;
  }
  int failures = 0;
  for (const std::string& model : options.models)
    for (const std::string& precision : options.precisions)
      for (const std::string& impl : options.conv_impls) {
        nlohmann::json row;
        if (precision == "bf16") {
          row = row_header(options, model, impl, precision);
          row["status"] = "absent";
          row["reason"] =
              "the engine has no bf16 mixed precision yet (fp32 tensors and kernels only; bf16 activations with fp32 "
              "master weights are planned work of the GPU-performance issue)";
        } else {
          try {
            row = measure(options, model, impl);
          } catch (const std::exception& error) {
            row = row_header(options, model, impl, precision);
            row["status"] = "error";
            row["reason"] = error.what();
            ++failures;
          }
        }
        std::printf("%s\n", row.dump().c_str());
        std::fflush(stdout);
      }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pneuma

int main(int argc, char** argv) {
  try {
    return pneuma::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cuda_train_step: error: %s\n", error.what());
    return 2;
  }
}

#else  // CPU-only build

int main() {
  std::fprintf(stderr, "cuda_train_step: this build has no CUDA backend (configured with -DPNEUMA_CUDA=OFF)\n");
  return 1;
}

#endif
