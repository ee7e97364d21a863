#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"

namespace pneuma::kernels::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" status
    return 0;
  }
  return count;
}

void* device_malloc(size_t bytes, int device) {
  CUDA_CHECK(cudaSetDevice(device));
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    PNEUMA_FAIL("cudaMalloc of %zu bytes on cuda:%d failed: %s", bytes, device, cudaGetErrorString(status));
  }
  return pointer;
}

void device_free(void* pointer, int device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaFree(pointer));
}

void copy_host_to_device(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyHostToDevice));
}
void copy_device_to_host(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* destination, const void* source, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToDevice));
}
void synchronize(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace pneuma::kernels::cuda
