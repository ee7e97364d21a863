// Raw CUDA memory, copies, streams and events behind plain C++ declarations, so engine/ never sees a CUDA type.
// Only linked when the build has PNEUMA_WITH_CUDA. Every call is checked and throws pneuma::Error.
//
// Ordering: kernels and the synchronous copies below run on the compute stream (kernels/cuda/launch.h). Batch
// uploads run on a separate transfer stream so they overlap with compute; events order the two (the engine's
// transfer code, engine/transfer.cpp, is the one user).
#pragma once
#include <cstddef>
#include <string>

namespace pneuma::kernels::cuda {
int device_count();  // 0 when the driver reports no device (never throws for "no device")
void set_device(int device);  // makes `device` current for this thread (cheap when it already is)
void* device_malloc(size_t bytes, int device);
void device_free(void* pointer, int device);
void copy_host_to_device(void* destination, const void* source, size_t bytes);
void copy_device_to_host(void* destination, const void* source, size_t bytes);
void copy_device_to_device(void* destination, const void* source, size_t bytes);
void zero_device(void* destination, size_t bytes);  // memset 0 on the compute stream
void synchronize(int device);

// Page-locked host memory (the source of asynchronous uploads).
void* pinned_malloc(size_t bytes);
void pinned_free(void* pointer);

// Events, as opaque handles. record_* marks "everything issued to that stream so far"; *_wait makes a stream wait
// for an event on the GPU (the host does not block).
void* event_create();
void event_destroy(void* event);
void event_record_compute(void* event);
void event_record_transfer(void* event);
void compute_wait(void* event);
void transfer_wait(void* event);
bool event_done(void* event);  // the work before the event has finished
// Asynchronous host→device copy on the transfer stream; `source` must be pinned and stay untouched until an event
// recorded on the transfer stream after this call is done.
void copy_host_to_device_on_transfer(void* destination, const void* source, size_t bytes);

struct DeviceInfo {
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0;
  int driver_version = 0;   // e.g. 13000 for CUDA 13.0 (what the driver supports)
  int runtime_version = 0;  // the CUDA runtime this build links
};
DeviceInfo device_info(int device);
}  // namespace pneuma::kernels::cuda
