// Asynchronous host→device uploads that overlap with compute (the data loader's batches). Used through
// Tensor::to(device, /*non_blocking=*/true) and Tensor::pin_memory(); the pieces here are the machinery.
//
// An upload: the host tensor is packed into page-locked memory (skipped when it already lives there), a device
// tensor is allocated, and the copy runs on the transfer stream after the compute work issued so far (the
// destination block may have been freed by work still queued there). The destination's storage carries the copy's
// event; the first kernel that reads it (any raw_data() call) makes the compute stream wait for the event, so
// compute issued between the upload and that first use runs concurrently with the copy. The pinned source is kept
// alive until its copy has finished; a source that was already pinned is shared, so the caller must not write
// into it before the upload has been used. Usage, to overlap batch i+1's copy with step i:
//   Tensor next = loader_batch.to(Device::cuda(), /*non_blocking=*/true);   // before step i's kernels
//   train_step(current);                                                   // runs while `next` is copied
//   current = next;
#pragma once
#include "engine/tensor.h"

namespace pneuma {

// The upload described above; `host` is any CPU tensor, `device` a CUDA device. Needs a CUDA build.
Tensor upload_async(const Tensor& host, Device device);
// Makes the compute stream wait for a pending upload into `storage` and forgets it (called by Tensor::raw_data()
// and when the storage is freed). No-op when none is pending.
void wait_for_upload(Storage& storage);

}  // namespace pneuma
