// cuDNN baseline for conv2d (cudnn_conv2d.h). One plan per (shape, precision): descriptors, the symmetric part of
// the padding cuDNN takes plus the explicit padding of the rest, and the algorithm of each pass found by
// cudnnFind*AlgorithmEx on first use.
#include "kernels/baseline/cudnn_conv2d.h"
#include "kernels/error.h"

#if PNEUMA_WITH_CUDNN
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda/launch.h"
#include "kernels/gemm.h"

#define CUDNN_CHECK(call)                                                                    \
  do {                                                                                       \
    const cudnnStatus_t pneuma_cudnn_status = (call);                                        \
    if (pneuma_cudnn_status != CUDNN_STATUS_SUCCESS) [[unlikely]]                            \
      PNEUMA_FAIL("cuDNN error in %s: %s", #call, cudnnGetErrorString(pneuma_cudnn_status)); \
  } while (0)

namespace pneuma::kernels::cudnn {
namespace {

constexpr size_t kWorkspaceLimit = size_t{256} << 20;

// Device memory grown on demand and kept for the process (cudaFree synchronises, so a buffer is never freed
// while queued work still reads it).
class DeviceBuffer {
 public:
  void* get(size_t bytes) {
    if (bytes > capacity_) {
      if (data_ != nullptr) CUDA_CHECK(cudaFree(data_));
      data_ = nullptr;
      CUDA_CHECK(cudaMalloc(&data_, bytes));
      capacity_ = bytes;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

cudnnHandle_t handle() {
  static const cudnnHandle_t created = [] {
    cudnnHandle_t h = nullptr;
    CUDNN_CHECK(cudnnCreate(&h));
    return h;
  }();
  CUDNN_CHECK(cudnnSetStream(created, cuda::compute_stream()));
  return created;
}

DeviceBuffer& workspace_buffer() {
  static DeviceBuffer buffer;
  return buffer;
}
DeviceBuffer& padded_buffer() {
  static DeviceBuffer buffer;
  return buffer;
}

int as_int(int64_t value) {
  PNEUMA_CHECK(value >= 0 && value <= INT32_MAX, "conv2d (cuDNN): size %lld exceeds int", (long long)value);
  return static_cast<int>(value);
}

struct Plan {
  // cuDNN gets the symmetric padding min(before, after); the rest ("extra") is added by copying the input into a
  // zeroed buffer of padded_height × padded_width.
  int64_t extra_top = 0, extra_left = 0, padded_height = 0, padded_width = 0;
  bool explicit_padding = false;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t convolution = nullptr;
  bool forward_found = false, data_found = false, filter_found = false;
  cudnnConvolutionFwdAlgo_t forward_algorithm{};
  cudnnConvolutionBwdDataAlgo_t data_algorithm{};
  cudnnConvolutionBwdFilterAlgo_t filter_algorithm{};
  size_t forward_workspace = 0, data_workspace = 0, filter_workspace = 0;
};

Plan make_plan(const Conv2dShape& s, bool tf32) {
  Plan plan;
  const int64_t pad_h = std::min(s.pad_top, s.pad_bottom), pad_w = std::min(s.pad_left, s.pad_right);
  plan.extra_top = s.pad_top - pad_h, plan.extra_left = s.pad_left - pad_w;
  plan.padded_height = s.in_height + plan.extra_top + (s.pad_bottom - pad_h);
  plan.padded_width = s.in_width + plan.extra_left + (s.pad_right - pad_w);
  plan.explicit_padding = plan.padded_height != s.in_height || plan.padded_width != s.in_width;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.y));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.bias));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan.w));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan.convolution));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, as_int(s.batch),
                                         as_int(s.in_channels), as_int(plan.padded_height), as_int(plan.padded_width)));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, as_int(s.batch),
                                         as_int(s.out_channels), as_int(s.out_height), as_int(s.out_width)));
  CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(plan.bias, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, as_int(s.out_channels), 1, 1));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, as_int(s.out_channels),
                                         as_int(s.in_channels / s.groups), as_int(s.kernel_height),
                                         as_int(s.kernel_width)));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan.convolution, as_int(pad_h), as_int(pad_w), as_int(s.stride_height),
                                              as_int(s.stride_width), as_int(s.dilation_height),
                                              as_int(s.dilation_width), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan.convolution, as_int(s.groups)));
  CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan.convolution, plan.x, plan.w, &n, &c, &h, &w));
  PNEUMA_CHECK(h == s.out_height && w == s.out_width, "conv2d (cuDNN): output %dx%d, expected %lldx%lld", h, w,
               (long long)s.out_height, (long long)s.out_width);
  return plan;
}

Plan& plan_for(const Conv2dShape& s) {
  static std::mutex mutex;
  static std::map<std::array<int64_t, 19>, std::unique_ptr<Plan>> plans;
  const bool tf32 = cuda::matmul_precision() == cuda::MatmulPrecision::tf32;
  const std::array<int64_t, 19> key = {
      s.batch,         s.in_height,       s.in_width,       s.in_channels,  s.out_height, s.out_width, s.out_channels,
      s.kernel_height, s.kernel_width,    s.stride_height,  s.stride_width, s.pad_top,    s.pad_left,  s.pad_bottom,
      s.pad_right,     s.dilation_height, s.dilation_width, s.groups,       tf32 ? 1 : 0};
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = plans[key];
  if (!entry) entry = std::make_unique<Plan>(make_plan(s, tf32));
  return *entry;
}

// The first algorithm cudnnFind*AlgorithmEx timed successfully (they come fastest first).
template <class Perf>
const Perf& fastest(const std::vector<Perf>& results, int count, const char* pass) {
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS) return results[i];
  PNEUMA_FAIL("conv2d (cuDNN): no %s algorithm runs for this shape within %zu MiB of workspace", pass,
              kWorkspaceLimit >> 20);
}

// The input as cuDNN sees it: itself, or a zero-padded copy when the padding is asymmetric.
const float* padded_input(const Conv2dShape& s, const Plan& plan, const float* input) {
  if (!plan.explicit_padding) return input;
  const size_t bytes = sizeof(float) * s.batch * plan.padded_height * plan.padded_width * s.in_channels;
  float* padded = static_cast<float*>(padded_buffer().get(bytes));
  const cudaStream_t stream = cuda::compute_stream();
  CUDA_CHECK(cudaMemsetAsync(padded, 0, bytes, stream));
  const size_t row = sizeof(float) * s.in_width * s.in_channels;
  const size_t padded_row = sizeof(float) * plan.padded_width * s.in_channels;
  for (int64_t image = 0; image < s.batch; ++image) {
    float* destination =
        padded + ((image * plan.padded_height + plan.extra_top) * plan.padded_width + plan.extra_left) * s.in_channels;
    CUDA_CHECK(cudaMemcpy2DAsync(destination, padded_row, input + image * s.in_height * s.in_width * s.in_channels, row,
                                 row, s.in_height, cudaMemcpyDeviceToDevice, stream));
  }
  return padded;
}

constexpr float kOne = 1.0f, kZero = 0.0f;

}  // namespace

bool available() { return true; }

void conv2d_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias, float* output) {
  Plan& plan = plan_for(s);
  const float* x = padded_input(s, plan, input);
  if (!plan.forward_found) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle(), &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> results(count);
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle(), plan.x, x, plan.w, weight, plan.convolution, plan.y,
                                                       output, count, &count, results.data(),
                                                       workspace_buffer().get(kWorkspaceLimit), kWorkspaceLimit));
    const auto& best = fastest(results, count, "forward");
    plan.forward_algorithm = best.algo, plan.forward_workspace = best.memory, plan.forward_found = true;
  }
  CUDNN_CHECK(cudnnConvolutionForward(handle(), &kOne, plan.x, x, plan.w, weight, plan.convolution,
                                      plan.forward_algorithm, workspace_buffer().get(plan.forward_workspace),
                                      plan.forward_workspace, &kZero, plan.y, output));
  if (bias != nullptr) CUDNN_CHECK(cudnnAddTensor(handle(), &kOne, plan.bias, bias, &kOne, plan.y, output));
}

void conv2d_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input) {
  Plan& plan = plan_for(s);
  const size_t padded_bytes = sizeof(float) * s.batch * plan.padded_height * plan.padded_width * s.in_channels;
  float* dx = plan.explicit_padding ? static_cast<float*>(padded_buffer().get(padded_bytes)) : grad_input;
  if (!plan.data_found) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle(), &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(count);
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(handle(), plan.w, weight, plan.y, grad_output,
                                                            plan.convolution, plan.x, dx, count, &count, results.data(),
                                                            workspace_buffer().get(kWorkspaceLimit), kWorkspaceLimit));
    const auto& best = fastest(results, count, "backward-data");
    plan.data_algorithm = best.algo, plan.data_workspace = best.memory, plan.data_found = true;
  }
  CUDNN_CHECK(cudnnConvolutionBackwardData(handle(), &kOne, plan.w, weight, plan.y, grad_output, plan.convolution,
                                           plan.data_algorithm, workspace_buffer().get(plan.data_workspace),
                                           plan.data_workspace, &kZero, plan.x, dx));
  if (plan.explicit_padding) {
    // Crop the gradient of the padded input back to the input.
    const size_t row = sizeof(float) * s.in_width * s.in_channels;
    const size_t padded_row = sizeof(float) * plan.padded_width * s.in_channels;
    for (int64_t image = 0; image < s.batch; ++image) {
      const float* source =
          dx + ((image * plan.padded_height + plan.extra_top) * plan.padded_width + plan.extra_left) * s.in_channels;
      CUDA_CHECK(cudaMemcpy2DAsync(grad_input + image * s.in_height * s.in_width * s.in_channels, row, source,
                                   padded_row, row, s.in_height, cudaMemcpyDeviceToDevice, cuda::compute_stream()));
    }
  }
}

void conv2d_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight) {
  Plan& plan = plan_for(s);
  const float* x = padded_input(s, plan, input);
  if (!plan.filter_found) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle(), &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(count);
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        handle(), plan.x, x, plan.y, grad_output, plan.convolution, plan.w, grad_weight, count, &count, results.data(),
        workspace_buffer().get(kWorkspaceLimit), kWorkspaceLimit));
    const auto& best = fastest(results, count, "backward-filter");
    plan.filter_algorithm = best.algo, plan.filter_workspace = best.memory, plan.filter_found = true;
  }
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle(), &kOne, plan.x, x, plan.y, grad_output, plan.convolution,
                                             plan.filter_algorithm, workspace_buffer().get(plan.filter_workspace),
                                             plan.filter_workspace, &kZero, plan.w, grad_weight));
}

void conv2d_backward_bias(const Conv2dShape& s, const float* grad_output, float* grad_bias) {
  if (grad_bias == nullptr) return;
  Plan& plan = plan_for(s);
  CUDNN_CHECK(cudnnConvolutionBackwardBias(handle(), &kOne, plan.y, grad_output, &kZero, plan.bias, grad_bias));
}

}  // namespace pneuma::kernels::cudnn

#else  // built without cuDNN

namespace pneuma::kernels::cudnn {
namespace {
[[noreturn]] void unavailable() {
  PNEUMA_FAIL("conv2d: this build has no cuDNN (configure with cuDNN installed, or CUDNN_ROOT pointing at it)");
}
}  // namespace
bool available() { return false; }
void conv2d_forward(const Conv2dShape&, const float*, const float*, const float*, float*) { unavailable(); }
void conv2d_backward_input(const Conv2dShape&, const float*, const float*, float*) { unavailable(); }
void conv2d_backward_weight(const Conv2dShape&, const float*, const float*, float*) { unavailable(); }
void conv2d_backward_bias(const Conv2dShape&, const float*, float*) { unavailable(); }
}  // namespace pneuma::kernels::cudnn

#endif
