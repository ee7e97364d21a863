// Every convolution layer shape of MobileNetV2 and EfficientNetV2-S (torchvision layouts, batch 128, 224×224):
// depthwise, pointwise and regular (stem, Fused-MBConv) — forward, input gradient and weight gradient, pneuma's
// CUDA kernels ("native") and cuDNN side by side, plus a device-to-device copy that measures the bandwidth the
// memory-bound kernels are judged against.
//
// Rows: <net>/<layer>/<pass>/<impl>, e.g. mbv2/dw3x3_s2_c96_112/forward/native. Time is GPU time from CUDA events
// (manual time). Counters:
//   GB/s           compulsory traffic / time: every input read once, every output written once (the minimum any
//                  kernel must move; bias and weight included)
//   TFLOP/s        2 · multiply-adds / time
//   copy_fraction  GB/s / the device-to-device copy bandwidth measured in this run (read + write bytes)
//   peak_fraction  TFLOP/s / the nominal peak: fp32 FFMA (SMs · 128 FMA/clock) for depthwise, TF32 tensor cores
//                  (SMs · 1024 FMA/clock, Hopper dense) for the GEMM convolutions — or fp32 FFMA when
//                  PNEUMA_MATMUL_PRECISION=fp32
// Usage: cuda_conv_layers [--benchmark_filter=dw] [--benchmark_out=result.json --benchmark_out_format=json]
#include <benchmark/benchmark.h>

#include <cstdio>

#if PNEUMA_WITH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/baseline/cudnn_conv2d.h"
#include "kernels/conv2d.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/gemm.h"

namespace pneuma {
namespace {

constexpr int64_t kBatch = 128;

struct Layer {
  std::string net, name;
  kernels::Conv2dShape shape;
};

kernels::Conv2dShape conv(int64_t size, int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                          int64_t groups) {
  kernels::Conv2dShape s;
  const int64_t pad = kernel / 2;  // torchvision: symmetric (kernel - 1) / 2
  s.batch = kBatch, s.in_height = s.in_width = size, s.in_channels = in_channels, s.out_channels = out_channels;
  s.kernel_height = s.kernel_width = kernel, s.stride_height = s.stride_width = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.groups = groups;
  s.out_height = s.out_width = kernels::conv_output_size(size, kernel, stride, pad, pad, 1);
  return s;
}

Layer regular(const char* net, int size, int in, int out, int kernel, int stride) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%dx%d_s%d_%dto%d_%d", kernel == 1 ? "pw" : "conv", kernel, kernel, stride, in,
                out, size);
  return {net, name, conv(size, in, out, kernel, stride, 1)};
}
Layer depthwise(const char* net, int size, int channels, int stride) {
  char name[64];
  std::snprintf(name, sizeof(name), "dw3x3_s%d_c%d_%d", stride, channels, size);
  return {net, name, conv(size, channels, channels, 3, stride, channels)};
}

// The distinct convolution shapes of each network (input resolution in the name).
struct DepthwiseLayer {
  int size, channels, stride;
};
struct RegularLayer {
  int size, in, out, kernel, stride;
};
// MobileNetV2 1.0: stem, inverted residuals (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
// (6,160,3,2) (6,320,1,1): expand 1×1, depthwise 3×3, project 1×1; head 320→1280.
constexpr DepthwiseLayer kMobileNetV2Depthwise[] = {{112, 32, 1}, {112, 96, 2}, {56, 144, 1}, {56, 144, 2},
                                                    {28, 192, 1}, {28, 192, 2}, {14, 384, 1}, {14, 576, 1},
                                                    {14, 576, 2}, {7, 960, 1}};
constexpr RegularLayer kMobileNetV2Regular[] = {
    {224, 3, 32, 3, 2},  {112, 32, 16, 1, 1}, {112, 16, 96, 1, 1}, {56, 96, 24, 1, 1},  {56, 24, 144, 1, 1},
    {56, 144, 24, 1, 1}, {28, 144, 32, 1, 1}, {28, 32, 192, 1, 1}, {28, 192, 32, 1, 1}, {14, 192, 64, 1, 1},
    {14, 64, 384, 1, 1}, {14, 384, 64, 1, 1}, {14, 384, 96, 1, 1}, {14, 96, 576, 1, 1}, {14, 576, 96, 1, 1},
    {7, 576, 160, 1, 1}, {7, 160, 960, 1, 1}, {7, 960, 160, 1, 1}, {7, 960, 320, 1, 1}, {7, 320, 1280, 1, 1}};
// EfficientNetV2-S: stem 3→24; Fused-MBConv stages (1,3,1,24→24,×2) (4,3,2,24→48,×4)
// (4,3,2,48→64,×4) as 3×3 (+ 1×1 project); MBConv stages (4,3,2,64→128,×6) (6,3,1,128→160,×9)
// (6,3,2,160→256,×15); head 256→1280. The SE layers work on pooled 1×1 maps and are left out.
constexpr DepthwiseLayer kEfficientNetV2SDepthwise[] = {{28, 256, 2}, {14, 512, 1}, {14, 768, 1},
                                                        {14, 960, 1}, {14, 960, 2}, {7, 1536, 1}};
constexpr RegularLayer kEfficientNetV2SRegular[] = {
    {224, 3, 24, 3, 2},   {112, 24, 24, 3, 1},  {112, 24, 96, 3, 2},  {56, 48, 192, 3, 1},  {56, 48, 192, 3, 2},
    {28, 64, 256, 3, 1},  {56, 96, 48, 1, 1},   {56, 192, 48, 1, 1},  {28, 192, 64, 1, 1},  {28, 256, 64, 1, 1},
    {28, 64, 256, 1, 1},  {14, 256, 128, 1, 1}, {14, 128, 512, 1, 1}, {14, 512, 128, 1, 1}, {14, 128, 768, 1, 1},
    {14, 768, 160, 1, 1}, {14, 160, 960, 1, 1}, {14, 960, 160, 1, 1}, {7, 960, 256, 1, 1},  {7, 256, 1536, 1, 1},
    {7, 1536, 256, 1, 1}, {7, 256, 1280, 1, 1}};

std::vector<Layer> layers() {
  std::vector<Layer> all;
  for (const RegularLayer& l : kMobileNetV2Regular)
    all.push_back(regular("mbv2", l.size, l.in, l.out, l.kernel, l.stride));
  for (const DepthwiseLayer& l : kMobileNetV2Depthwise) all.push_back(depthwise("mbv2", l.size, l.channels, l.stride));
  for (const RegularLayer& l : kEfficientNetV2SRegular)
    all.push_back(regular("effv2s", l.size, l.in, l.out, l.kernel, l.stride));
  for (const DepthwiseLayer& l : kEfficientNetV2SDepthwise)
    all.push_back(depthwise("effv2s", l.size, l.channels, l.stride));
  return all;
}

// ---- device figures measured / read once ---------------------------------------------------------------------
struct DeviceFigures {
  double copy_bytes_per_second = 0;  // device-to-device copy, read + write bytes
  double fp32_flops = 0;             // nominal FFMA peak
  double tf32_flops = 0;             // nominal dense TF32 tensor-core peak (Hopper)
};

// Copies `bytes` device to device `repeats` times; returns the seconds per copy.
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

constexpr size_t kCopyBytes = size_t{1} << 30;

const DeviceFigures& device_figures() {
  static const DeviceFigures figures = [] {
    DeviceFigures f;
    int device = 0, sms = 0, clock_khz = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
    f.fp32_flops = 2.0 * 128 * sms * clock_khz * 1e3;
    f.tf32_flops = 2.0 * 1024 * sms * clock_khz * 1e3;
    void *a = nullptr, *b = nullptr;
    CUDA_CHECK(cudaMalloc(&a, kCopyBytes));
    CUDA_CHECK(cudaMalloc(&b, kCopyBytes));
    CUDA_CHECK(cudaMemset(a, 0x3c, kCopyBytes));
    time_copy(b, a, kCopyBytes, 3);  // warm-up
    f.copy_bytes_per_second = 2.0 * kCopyBytes / time_copy(b, a, kCopyBytes, 20);
    CUDA_CHECK(cudaFree(a));
    CUDA_CHECK(cudaFree(b));
    return f;
  }();
  return figures;
}

void BM_DeviceCopy(benchmark::State& state) {
  const DeviceFigures& figures = device_figures();
  void *a = nullptr, *b = nullptr;
  CUDA_CHECK(cudaMalloc(&a, kCopyBytes));
  CUDA_CHECK(cudaMalloc(&b, kCopyBytes));
  CUDA_CHECK(cudaMemset(a, 0x3c, kCopyBytes));
  for (auto _ : state) state.SetIterationTime(time_copy(b, a, kCopyBytes, 1));
  state.counters["GB/s"] = figures.copy_bytes_per_second / 1e9;
  state.counters["nominal_fp32_TFLOP/s"] = figures.fp32_flops / 1e12;
  state.counters["nominal_tf32_TFLOP/s"] = figures.tf32_flops / 1e12;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * kCopyBytes);
  CUDA_CHECK(cudaFree(a));
  CUDA_CHECK(cudaFree(b));
}

// ---- layers ----------------------------------------------------------------------------------------------------
enum class Pass { forward, backward_input, backward_weight };
const char* pass_name(Pass pass) {
  return pass == Pass::forward ? "forward" : pass == Pass::backward_input ? "backward_input" : "backward_weight";
}

// A device buffer of `count` floats filled with 0x3c3c3c3c (≈ 0.0115: normal, non-zero).
struct DeviceArray {
  explicit DeviceArray(int64_t count) : bytes(sizeof(float) * count) {
    CUDA_CHECK(cudaMalloc(&data, bytes));
    CUDA_CHECK(cudaMemset(data, 0x3c, bytes));
  }
  ~DeviceArray() { cudaFree(data); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  float* data = nullptr;
  size_t bytes = 0;
};

void BM_Layer(benchmark::State& state, const Layer& layer, Pass pass, bool cudnn) {
  if (cudnn && !kernels::cudnn::available()) {
    state.SkipWithError("this build has no cuDNN");
    return;
  }
  const kernels::Conv2dShape& s = layer.shape;
  const bool depthwise = s.groups == s.in_channels && s.groups == s.out_channels;
  const DeviceFigures& figures = device_figures();
  DeviceArray input(s.batch * s.in_height * s.in_width * s.in_channels);
  DeviceArray output(s.batch * s.out_height * s.out_width * s.out_channels);
  DeviceArray weight(s.out_channels * s.kernel_height * s.kernel_width * (s.in_channels / s.groups));
  DeviceArray bias(s.out_channels);
  std::function<void()> run;
  size_t bytes = 0;
  switch (pass) {
    case Pass::forward:
      bytes = input.bytes + weight.bytes + bias.bytes + output.bytes;
      run = [&] {
        (cudnn ? kernels::cudnn::conv2d_forward : kernels::cuda::conv2d_forward)(s, input.data, weight.data, bias.data,
                                                                                 output.data);
      };
      break;
    case Pass::backward_input:
      bytes = output.bytes + weight.bytes + input.bytes;
      run = [&] {
        (cudnn ? kernels::cudnn::conv2d_backward_input : kernels::cuda::conv2d_backward_input)(s, output.data,
                                                                                               weight.data, input.data);
      };
      break;
    case Pass::backward_weight:
      bytes = input.bytes + output.bytes + weight.bytes;
      run = [&] {
        (cudnn ? kernels::cudnn::conv2d_backward_weight : kernels::cuda::conv2d_backward_weight)(
            s, input.data, output.data, weight.data);
      };
      break;
  }
  run();  // first call: cuDNN finds its algorithm; kernels get their shared-memory limits
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  double total_seconds = 0;
  for (auto _ : state) {
    CUDA_CHECK(cudaEventRecord(start));
    run();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float milliseconds = 0;
    CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start, stop));
    state.SetIterationTime(milliseconds * 1e-3);
    total_seconds += milliseconds * 1e-3;
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  const double seconds = total_seconds / static_cast<double>(state.iterations());
  const double flops = 2.0 * s.batch * s.out_height * s.out_width * s.out_channels * s.kernel_height * s.kernel_width *
                       (s.in_channels / s.groups);
  const bool tensor_cores = !depthwise && kernels::cuda::matmul_precision() == kernels::cuda::MatmulPrecision::tf32;
  state.counters["GB/s"] = bytes / seconds / 1e9;
  state.counters["TFLOP/s"] = flops / seconds / 1e12;
  state.counters["copy_fraction"] = bytes / seconds / figures.copy_bytes_per_second;
  state.counters["peak_fraction"] = flops / seconds / (tensor_cores ? figures.tf32_flops : figures.fp32_flops);
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("device_copy_1GiB", BM_DeviceCopy)->UseManualTime()->Unit(benchmark::kMillisecond);
  static const std::vector<Layer> all = layers();
  for (const Layer& layer : all)
    for (const Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight})
      for (const bool cudnn : {false, true}) {
        const std::string name =
            layer.net + "/" + layer.name + "/" + pass_name(pass) + "/" + (cudnn ? "cudnn" : "native");
        benchmark::RegisterBenchmark(name.c_str(), BM_Layer, layer, pass, cudnn)
            ->UseManualTime()
            ->MinTime(0.1)
            ->Unit(benchmark::kMicrosecond);
      }
}

}  // namespace
}  // namespace pneuma

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "cuda_conv_layers: no CUDA device\n");
    return 1;
  }
  pneuma::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#else  // CPU-only build

int main() {
  std::fprintf(stderr, "cuda_conv_layers: this build has no CUDA backend (configured with -DPNEUMA_CUDA=OFF)\n");
  return 1;
}

#endif
