// Raw CUDA memory and copies behind plain C++ declarations, so engine/ never sees a CUDA type.
// Only linked when the build has PNEUMA_WITH_CUDA. Every call is checked and throws pneuma::Error.
#pragma once
#include <cstddef>

namespace pneuma::kernels::cuda {
int device_count();  // 0 when the driver reports no device (never throws for "no device")
void* device_malloc(size_t bytes, int device);
void device_free(void* pointer, int device);
void copy_host_to_device(void* destination, const void* source, size_t bytes);
void copy_device_to_host(void* destination, const void* source, size_t bytes);
void copy_device_to_device(void* destination, const void* source, size_t bytes);
void synchronize(int device);
}  // namespace pneuma::kernels::cuda
