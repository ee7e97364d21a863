// Asynchronous host→device uploads on the transfer stream, ordered against compute with events (see transfer.h).
#include "engine/transfer.h"

#include <deque>
#include <mutex>
#include <utility>

#include "engine/allocator.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma {

#if PNEUMA_WITH_CUDA
namespace {

// An event handle whose last owner destroys it.
std::shared_ptr<void> make_event() {
  return std::shared_ptr<void>(kernels::cuda::event_create(), [](void* event) { kernels::cuda::event_destroy(event); });
}

// Pinned sources of copies still in flight, each with the event that marks its copy's end.
class PendingSources {
 public:
  void add(std::shared_ptr<void> event, std::shared_ptr<Storage> source) {
    std::lock_guard<std::mutex> lock(mutex_);
    reap_locked();
    pending_.emplace_back(std::move(event), std::move(source));
  }

 private:
  void reap_locked() {
    while (!pending_.empty() && kernels::cuda::event_done(pending_.front().first.get())) pending_.pop_front();
  }
  std::mutex mutex_;
  std::deque<std::pair<std::shared_ptr<void>, std::shared_ptr<Storage>>> pending_;
};

PendingSources& pending_sources() {
  static PendingSources* sources = new PendingSources();  // never destroyed: its events outlive static teardown
  return *sources;
}

}  // namespace

Tensor upload_async(const Tensor& host, Device device) {
  PNEUMA_CHECK(host.device().is_cpu() && device.is_cuda(), "upload_async: needs a CPU tensor and a CUDA device, got %s to %s",
               host.describe().c_str(), device.name().c_str());
  const Tensor source = host.pin_memory();  // packed and page-locked (self when it already is)
  Tensor destination = Tensor::empty(source.shape(), source.dtype(), device);
  if (source.nbytes() == 0) return destination;
  kernels::cuda::set_device(device.index);
  // The destination block may have been freed by kernels still queued on the compute stream: copy after them.
  const std::shared_ptr<void> compute_point = make_event();
  kernels::cuda::event_record_compute(compute_point.get());
  kernels::cuda::transfer_wait(compute_point.get());
  kernels::cuda::copy_host_to_device_on_transfer(destination.raw_data(), source.raw_data(), source.nbytes());
  std::shared_ptr<void> copied = make_event();
  kernels::cuda::event_record_transfer(copied.get());
  destination.impl()->storage->ready_event = copied;
  pending_sources().add(std::move(copied), source.impl()->storage);
  return destination;
}

void wait_for_upload(Storage& storage) {
  if (!storage.ready_event) return;
  kernels::cuda::compute_wait(storage.ready_event.get());
  storage.ready_event.reset();
}
#else
Tensor upload_async(const Tensor& host, Device device) {
  PNEUMA_FAIL("upload of %s to %s requested, but this build has no CUDA backend (configure with -DPNEUMA_CUDA=ON)",
              host.describe().c_str(), device.name().c_str());
}
void wait_for_upload(Storage& storage) { storage.ready_event.reset(); }
#endif

}  // namespace pneuma
