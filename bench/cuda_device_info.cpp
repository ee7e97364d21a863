// The device facts a GPU benchmark report quotes, and the bandwidth the memory-bound kernels are judged against:
// name, compute capability, SMs, clocks, memory, the nominal fp32 FFMA and dense TF32 tensor-core peaks (the same
// formulas as bench/cuda_conv_layers.cpp), the theoretical DRAM bandwidth from the memory clock and bus width, and a
// measured device-to-device copy of 1 GiB (cudaMemcpyAsync, 3 warm-up copies, then the median of 5 rounds of 10;
// bytes read + bytes written per second). Prints one JSON object. bench/run_gpu_bench.sh runs it first.
// Usage: cuda_device_info [--copy-mib 1024]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if PNEUMA_WITH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace pneuma {
namespace {

// Seconds per copy of `bytes` device to device, over `repeats` back-to-back copies timed with CUDA events.
double time_copy(void* destination, const void* source, size_t bytes, int repeats) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < repeats; ++i) CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice));
  CUDA_CHECK(cudaEventRecord(stop));
  CUDA_CHECK(cudaEventSynchronize(stop));
  float milliseconds = 0;
  CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start, stop));
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return milliseconds * 1e-3 / repeats;
}

int attribute(cudaDeviceAttr what, int device) {
  int value = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&value, what, device));
  return value;
}

int run(size_t copy_bytes) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "cuda_device_info: no CUDA device\n");
    return 1;
  }
  int device = 0, driver = 0, runtime = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDriverGetVersion(&driver));
  CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  const int sms = attribute(cudaDevAttrMultiProcessorCount, device);
  const int clock_khz = attribute(cudaDevAttrClockRate, device);
  const int memory_clock_khz = attribute(cudaDevAttrMemoryClockRate, device);
  const int bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, device);

  void *a = nullptr, *b = nullptr;
  CUDA_CHECK(cudaMalloc(&a, copy_bytes));
  CUDA_CHECK(cudaMalloc(&b, copy_bytes));
  CUDA_CHECK(cudaMemset(a, 0x3c, copy_bytes));
  time_copy(b, a, copy_bytes, 3);  // warm-up
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) rounds.push_back(time_copy(b, a, copy_bytes, 10));
  CUDA_CHECK(cudaFree(a));
  CUDA_CHECK(cudaFree(b));
  std::vector<double> sorted = rounds;
  std::sort(sorted.begin(), sorted.end());
  const double seconds = sorted[sorted.size() / 2];
  std::vector<double> round_ms;
  for (const double round : rounds) round_ms.push_back(round * 1e3);

  nlohmann::json report = {
      {"name", properties.name},
      {"compute_capability", std::to_string(properties.major) + "." + std::to_string(properties.minor)},
      {"multiprocessors", sms},
      {"sm_clock_mhz", clock_khz / 1000.0},
      {"memory_clock_mhz", memory_clock_khz / 1000.0},
      {"memory_bus_bits", bus_bits},
      {"memory_bytes", properties.totalGlobalMem},
      {"l2_bytes", properties.l2CacheSize},
      {"cuda_driver_api", driver},
      {"cuda_runtime", runtime},
      {"nominal_fp32_tflops", 2.0 * 128 * sms * clock_khz * 1e3 / 1e12},
      {"nominal_tf32_dense_tflops", 2.0 * 1024 * sms * clock_khz * 1e3 / 1e12},
      // DDR: two transfers per memory clock.
      {"theoretical_dram_gbps", 2.0 * memory_clock_khz * 1e3 * (bus_bits / 8.0) / 1e9},
      {"copy_bytes", copy_bytes},
      {"copy_ms", seconds * 1e3},
      {"copy_gbps", 2.0 * static_cast<double>(copy_bytes) / seconds / 1e9},  // read + write
      {"copy_round_ms", round_ms},
  };
  std::printf("%s\n", report.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace pneuma

int main(int argc, char** argv) {
  size_t copy_mib = 1024;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--copy-mib") == 0 && i + 1 < argc) {
      const long long value = std::atoll(argv[++i]);
      if (value <= 0) {
        std::fprintf(stderr, "cuda_device_info: --copy-mib needs a positive number of MiB\n");
        return 2;
      }
      copy_mib = static_cast<size_t>(value);
    } else {
      std::fprintf(stderr, "cuda_device_info: unknown option '%s' (usage: cuda_device_info [--copy-mib N])\n",
                   argv[i]);
      return 2;
    }
  }
  try {
    return pneuma::run(copy_mib << 20);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cuda_device_info: error: %s\n", error.what());
    return 1;
  }
}

#else  // CPU-only build

int main() {
  std::fprintf(stderr, "cuda_device_info: this build has no CUDA backend (configured with -DPNEUMA_CUDA=OFF)\n");
  return 1;
}

#endif
