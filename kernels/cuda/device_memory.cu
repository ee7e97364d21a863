// Device memory, copies, pinned host memory, the transfer stream and events (see device_memory.h).
#include <mutex>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/launch.h"

namespace pneuma::kernels::cuda {
namespace {

// One non-blocking transfer stream per device, created on first use and kept for the life of the process.
cudaStream_t transfer_stream() {
  static std::mutex mutex;
  static std::vector<cudaStream_t> streams;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<int>(streams.size()) <= device) streams.resize(device + 1, nullptr);
  if (streams[device] == nullptr) CUDA_CHECK(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking));
  return streams[device];
}

cudaEvent_t as_event(void* event) { return static_cast<cudaEvent_t>(event); }

}  // namespace

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" status
    return 0;
  }
  return count;
}

void set_device(int device) {
  thread_local int current = -1;
  if (current == device) return;
  CUDA_CHECK(cudaSetDevice(device));
  current = device;
}

void* device_malloc(size_t bytes, int device) {
  set_device(device);
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    PNEUMA_FAIL("cudaMalloc of %zu bytes on cuda:%d failed: %s", bytes, device, cudaGetErrorString(status));
  }
  return pointer;
}

namespace {
// Frees that happen while the process exits (static allocators) find the runtime already shut down: harmless.
void check_free(cudaError_t status, const char* call) {
  if (status == cudaErrorCudartUnloading) {
    cudaGetLastError();
    return;
  }
  if (status != cudaSuccess) PNEUMA_FAIL("CUDA error in %s: %s", call, cudaGetErrorString(status));
}
}  // namespace

void device_free(void* pointer, int device) {
  set_device(device);
  check_free(cudaFree(pointer), "cudaFree");
}

void copy_host_to_device(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyHostToDevice));
}
void copy_device_to_host(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, compute_stream()));
}
void zero_device(void* destination, size_t bytes) {
  CUDA_CHECK(cudaMemsetAsync(destination, 0, bytes, compute_stream()));
}
void synchronize(int device) {
  set_device(device);
  CUDA_CHECK(cudaDeviceSynchronize());
}

void* pinned_malloc(size_t bytes) {
  void* pointer = nullptr;
  const cudaError_t status = cudaHostAlloc(&pointer, bytes == 0 ? 1 : bytes, cudaHostAllocDefault);
  if (status != cudaSuccess) {
    cudaGetLastError();
    PNEUMA_FAIL("cudaHostAlloc of %zu bytes of pinned host memory failed: %s", bytes, cudaGetErrorString(status));
  }
  return pointer;
}
void pinned_free(void* pointer) { check_free(cudaFreeHost(pointer), "cudaFreeHost"); }

void* event_create() {
  cudaEvent_t event = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}
void event_destroy(void* event) { CUDA_CHECK(cudaEventDestroy(as_event(event))); }
void event_record_compute(void* event) { CUDA_CHECK(cudaEventRecord(as_event(event), compute_stream())); }
void event_record_transfer(void* event) { CUDA_CHECK(cudaEventRecord(as_event(event), transfer_stream())); }
void compute_wait(void* event) { CUDA_CHECK(cudaStreamWaitEvent(compute_stream(), as_event(event), 0)); }
void transfer_wait(void* event) { CUDA_CHECK(cudaStreamWaitEvent(transfer_stream(), as_event(event), 0)); }
bool event_done(void* event) {
  const cudaError_t status = cudaEventQuery(as_event(event));
  if (status == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  CUDA_CHECK(status);
  return true;
}

void copy_host_to_device_on_transfer(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyHostToDevice, transfer_stream()));
}

DeviceInfo device_info(int device) {
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  DeviceInfo info;
  info.name = properties.name;
  info.compute_major = properties.major;
  info.compute_minor = properties.minor;
  info.multiprocessors = properties.multiProcessorCount;
  info.total_memory = properties.totalGlobalMem;
  CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  return info;
}

// ---- the scratch workspace (launch.h) -------------------------------------------------------------
void* workspace(size_t bytes, int slot) {
  struct Buffer {
    void* pointer = nullptr;
    size_t bytes = 0;
  };
  constexpr int kSlots = 2;
  PNEUMA_CHECK(slot >= 0 && slot < kSlots, "workspace: slot %d outside [0, %d)", slot, kSlots);
  static std::mutex mutex;
  static std::vector<Buffer> buffers;  // [device][slot]
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<int>(buffers.size()) < (device + 1) * kSlots) buffers.resize((device + 1) * kSlots);
  Buffer& buffer = buffers[device * kSlots + slot];
  if (buffer.bytes < bytes) {
    if (buffer.pointer != nullptr) CUDA_CHECK(cudaFree(buffer.pointer));  // cudaFree waits for pending users
    buffer.bytes = std::max(bytes, 2 * buffer.bytes);
    buffer.pointer = device_malloc(buffer.bytes, device);
  }
  return buffer.pointer;
}

}  // namespace pneuma::kernels::cuda
