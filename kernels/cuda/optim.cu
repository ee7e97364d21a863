// Optimizer updates on CUDA as multi-tensor launches: the host turns each parameter tensor's hyper-parameters
// into the same T constants the CPU computes (kernels/cpu/optim.cpp, torch.optim's order of roundings) and packs
// up to kTensorsPerLaunch tensors into one kernel argument; every block finds its tensor by binary search over the
// tensors' first block numbers and updates one chunk of it with the CPU's per-element formulas.
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/optim.h"

namespace pneuma::kernels::cuda {
namespace {

constexpr int kTensorsPerLaunch = 128;
constexpr int64_t kChunk = 4096;  // elements per block

template <class T>
struct SgdEntry {
  T* param;
  const T* grad;
  T* momentum_buffer;
  int64_t count;
  T weight_decay, momentum, one_minus_dampening, negative_lr;
  bool use_weight_decay, use_momentum, nesterov, first_step;
};

template <class T>
struct AdamEntry {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t count;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decoupled_decay_factor;
  T negative_step_size, bias_correction2_sqrt;
  bool coupled_decay, decoupled_decay;
};

template <class T>
struct RmspropEntry {
  T* param;
  const T* grad;
  T* square_avg;
  T* momentum_buffer;
  T* grad_avg;
  int64_t count;
  T alpha, one_minus_alpha, eps, weight_decay, momentum, negative_lr;
  bool use_weight_decay, centered, use_momentum, eps_inside_sqrt;
};

// One launch's worth of tensors; first_block[i] is tensor i's first block, first_block[tensors] the grid size.
template <class Entry>
struct Batch {
  Entry entry[kTensorsPerLaunch];
  int32_t first_block[kTensorsPerLaunch + 1];
  int tensors;
};

// The tensor that block `block` works on.
template <class Entry>
__device__ __forceinline__ int tensor_of_block(const Batch<Entry>& batch, int32_t block) {
  int low = 0, high = batch.tensors - 1;
  while (low < high) {
    const int middle = (low + high + 1) / 2;
    if (batch.first_block[middle] <= block) low = middle;
    else high = middle - 1;
  }
  return low;
}

// Calls body(entry, i) for each element of this block's chunk.
template <class Entry, class Body>
__device__ __forceinline__ void for_block_chunk(const Batch<Entry>& batch, Body&& body) {
  const int32_t block = static_cast<int32_t>(blockIdx.x);
  const int t = tensor_of_block(batch, block);
  const Entry& entry = batch.entry[t];
  const int64_t begin = static_cast<int64_t>(block - batch.first_block[t]) * kChunk;
  const int64_t end = begin + kChunk < entry.count ? begin + kChunk : entry.count;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) body(entry, i);
}

template <class T>
__global__ void sgd_kernel(const Batch<SgdEntry<T>> batch) {
  for_block_chunk(batch, [](const SgdEntry<T>& c, int64_t i) {
    T d_p = c.grad[i];
    if (c.use_weight_decay) d_p = d_p + c.weight_decay * c.param[i];
    if (c.use_momentum) {
      T buffer = d_p;
      if (!c.first_step) {
        buffer = c.momentum_buffer[i] * c.momentum;
        buffer = buffer + c.one_minus_dampening * d_p;
      }
      c.momentum_buffer[i] = buffer;
      d_p = c.nesterov ? d_p + c.momentum * buffer : buffer;
    }
    c.param[i] = c.param[i] + c.negative_lr * d_p;
  });
}

template <class T>
__global__ void adam_kernel(const Batch<AdamEntry<T>> batch) {
  for_block_chunk(batch, [](const AdamEntry<T>& c, int64_t i) {
    T p = c.param[i];
    T g = c.grad[i];
    if (c.decoupled_decay) p = p * c.decoupled_decay_factor;
    if (c.coupled_decay) g = g + c.weight_decay * p;
    T m = c.exp_avg[i] * c.beta1;
    m = m + c.one_minus_beta1 * g;
    T v = c.exp_avg_sq[i] * c.beta2;
    v = v + c.one_minus_beta2 * g * g;
    const T denominator = sqrt(v) / c.bias_correction2_sqrt + c.eps;
    p = p + c.negative_step_size * m / denominator;
    c.exp_avg[i] = m;
    c.exp_avg_sq[i] = v;
    c.param[i] = p;
  });
}

template <class T>
__global__ void rmsprop_kernel(const Batch<RmspropEntry<T>> batch) {
  for_block_chunk(batch, [](const RmspropEntry<T>& c, int64_t i) {
    T g = c.grad[i];
    if (c.use_weight_decay) g = g + c.weight_decay * c.param[i];
    T v = c.square_avg[i] * c.alpha;
    v = v + c.one_minus_alpha * g * g;
    c.square_avg[i] = v;
    if (c.centered) {
      T mean = c.grad_avg[i] * c.alpha;
      mean = mean + c.one_minus_alpha * g;
      c.grad_avg[i] = mean;
      v = v + T(-1) * mean * mean;
    }
    const T denominator = c.eps_inside_sqrt ? sqrt(v + c.eps) : sqrt(v) + c.eps;
    if (c.use_momentum) {
      T buffer = c.momentum_buffer[i] * c.momentum;
      buffer = buffer + g / denominator;
      c.momentum_buffer[i] = buffer;
      c.param[i] = c.param[i] + c.negative_lr * buffer;
    } else {
      c.param[i] = c.param[i] + c.negative_lr * g / denominator;
    }
  });
}

// Packs entries into batches of kTensorsPerLaunch and launches `kernel` once per batch. Empty tensors are skipped.
template <class Entry, class Source, class MakeEntry, class Kernel>
void launch_batches(const Source* tensors, size_t tensor_count, MakeEntry make_entry, Kernel kernel,
                    const char* name) {
  Batch<Entry> batch;
  batch.tensors = 0;
  int32_t blocks = 0;
  auto flush = [&] {
    if (batch.tensors == 0) return;
    batch.first_block[batch.tensors] = blocks;
    kernel<<<blocks, kThreads, 0, compute_stream()>>>(batch);
    PNEUMA_CHECK_LAUNCH(name);
    batch.tensors = 0;
    blocks = 0;
  };
  for (size_t t = 0; t < tensor_count; ++t) {
    PNEUMA_CHECK(tensors[t].count >= 0, "%s: tensor %zu has a negative count", name, t);
    if (tensors[t].count == 0) continue;
    const int64_t tensor_blocks = (tensors[t].count + kChunk - 1) / kChunk;
    PNEUMA_CHECK(tensor_blocks < (int64_t{1} << 30), "%s: tensor %zu is too large (%lld elements)", name, t,
                 static_cast<long long>(tensors[t].count));
    if (batch.tensors == kTensorsPerLaunch || blocks + tensor_blocks > (int64_t{1} << 30)) flush();
    batch.entry[batch.tensors] = make_entry(tensors[t]);
    batch.first_block[batch.tensors] = blocks;
    ++batch.tensors;
    blocks += static_cast<int32_t>(tensor_blocks);
  }
  flush();
}

}  // namespace

template <class T>
void sgd_update_many(const SgdTensor<T>* tensors, size_t tensor_count) {
  auto make_entry = [](const SgdTensor<T>& t) {
    const SgdHyper& h = t.hyper;
    PNEUMA_CHECK(h.momentum == 0 || t.momentum_buffer != nullptr,
                 "sgd_update_many (CUDA): momentum %g needs a momentum buffer", h.momentum);
    PNEUMA_CHECK(!h.nesterov || (h.momentum > 0 && h.dampening == 0),
                 "sgd_update_many (CUDA): Nesterov momentum requires momentum > 0 and zero dampening");
    SgdEntry<T> e;
    e.param = t.param;
    e.grad = t.grad;
    e.momentum_buffer = t.momentum_buffer;
    e.count = t.count;
    e.weight_decay = static_cast<T>(h.weight_decay);
    e.momentum = static_cast<T>(h.momentum);
    e.one_minus_dampening = static_cast<T>(1 - h.dampening);
    e.negative_lr = static_cast<T>(-h.lr);
    e.use_weight_decay = h.weight_decay != 0;
    e.use_momentum = h.momentum != 0;
    e.nesterov = h.nesterov;
    e.first_step = t.first_step;
    return e;
  };
  launch_batches<SgdEntry<T>>(tensors, tensor_count, make_entry, sgd_kernel<T>, "sgd_update_many");
}

template <class T>
void adam_update_many(const AdamTensor<T>* tensors, size_t tensor_count) {
  auto make_entry = [](const AdamTensor<T>& t) {
    const AdamHyper& h = t.hyper;
    PNEUMA_CHECK(h.step >= 1, "adam_update_many (CUDA): step must be >= 1, got %lld", static_cast<long long>(h.step));
    const double step = static_cast<double>(h.step);
    const double bias_correction1 = 1 - std::pow(h.beta1, step);
    const double bias_correction2 = 1 - std::pow(h.beta2, step);
    AdamEntry<T> e;
    e.param = t.param;
    e.grad = t.grad;
    e.exp_avg = t.exp_avg;
    e.exp_avg_sq = t.exp_avg_sq;
    e.count = t.count;
    e.beta1 = static_cast<T>(h.beta1);
    e.one_minus_beta1 = static_cast<T>(1 - h.beta1);
    e.beta2 = static_cast<T>(h.beta2);
    e.one_minus_beta2 = static_cast<T>(1 - h.beta2);
    e.eps = static_cast<T>(h.eps);
    e.weight_decay = static_cast<T>(h.weight_decay);
    e.decoupled_decay_factor = static_cast<T>(1 - h.lr * h.weight_decay);
    e.negative_step_size = static_cast<T>(-(h.lr / bias_correction1));
    e.bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    e.coupled_decay = !h.decoupled_weight_decay && h.weight_decay != 0;
    e.decoupled_decay = h.decoupled_weight_decay;
    return e;
  };
  launch_batches<AdamEntry<T>>(tensors, tensor_count, make_entry, adam_kernel<T>, "adam_update_many");
}

template <class T>
void rmsprop_update_many(const RmspropTensor<T>* tensors, size_t tensor_count) {
  auto make_entry = [](const RmspropTensor<T>& t) {
    const RmspropHyper& h = t.hyper;
    PNEUMA_CHECK(h.momentum == 0 || t.momentum_buffer != nullptr,
                 "rmsprop_update_many (CUDA): momentum %g needs a momentum buffer", h.momentum);
    PNEUMA_CHECK(!h.centered || t.grad_avg != nullptr, "rmsprop_update_many (CUDA): centered RMSprop needs grad_avg");
    RmspropEntry<T> e;
    e.param = t.param;
    e.grad = t.grad;
    e.square_avg = t.square_avg;
    e.momentum_buffer = t.momentum_buffer;
    e.grad_avg = t.grad_avg;
    e.count = t.count;
    e.alpha = static_cast<T>(h.alpha);
    e.one_minus_alpha = static_cast<T>(1 - h.alpha);
    e.eps = static_cast<T>(h.eps);
    e.weight_decay = static_cast<T>(h.weight_decay);
    e.momentum = static_cast<T>(h.momentum);
    e.negative_lr = static_cast<T>(-h.lr);
    e.use_weight_decay = h.weight_decay != 0;
    e.centered = h.centered;
    e.use_momentum = h.momentum > 0;
    e.eps_inside_sqrt = h.eps_inside_sqrt;
    return e;
  };
  launch_batches<RmspropEntry<T>>(tensors, tensor_count, make_entry, rmsprop_kernel<T>, "rmsprop_update_many");
}

template void sgd_update_many<float>(const SgdTensor<float>*, size_t);
template void adam_update_many<float>(const AdamTensor<float>*, size_t);
template void rmsprop_update_many<float>(const RmspropTensor<float>*, size_t);

}  // namespace pneuma::kernels::cuda
