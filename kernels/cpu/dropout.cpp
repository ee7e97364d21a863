// Dropout and drop-path with Philox masks: nothing is stored, forward and backward regenerate the same mask from
// (seed, offset). Dropped elements are multiplied by 0 rather than replaced by 0, as PyTorch does (so a NaN or
// infinite input still yields NaN).
#include "kernels/dropout.h"

#include <algorithm>
#include <vector>

#include "kernels/error.h"
#include "kernels/parallel.h"
#include "kernels/philox.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kGrainElements = 8192;

// Factor for kept elements: 1/(1−p); with p = 1 nothing is kept and the factor is never used.
template <class T>
T keep_scale(T p, const char* who) {
  PNEUMA_CHECK(p >= T(0) && p <= T(1), "%s: drop probability must be in [0, 1], got %g", who, static_cast<double>(p));
  return p < T(1) ? T(1) / (T(1) - p) : T(0);
}

constexpr int64_t kBlocksPerBatch = 16;
constexpr int64_t kElementsPerBatch = 4 * kBlocksPerBatch;

// Uniform numbers of stream elements [4·first_block, 4·first_block + 64): sixteen independent Philox blocks side
// by side, a loop GCC vectorises across the blocks (several times faster than one block at a time).
void uniform_batch(uint64_t seed, uint64_t offset, uint64_t first_block, float* __restrict__ uniform) {
  for (int64_t lane = 0; lane < kBlocksPerBatch; ++lane) {
    const Philox4x32 block = philox_block(seed, offset, first_block + static_cast<uint64_t>(lane));
    for (int64_t word = 0; word < 4; ++word) uniform[lane * 4 + word] = philox_uniform_float(block.value[word]);
  }
}

// output[i] = input[i] · (uniform[i] >= p ? scale : 0). input and output may be the same buffer.
template <class T>
void multiply_by_mask(int64_t count, const T* input, const float* __restrict__ uniform, T p, T scale, T* output) {
  for (int64_t i = 0; i < count; ++i) output[i] = input[i] * (uniform[i] >= p ? scale : T(0));
}

// Element i is kept iff philox_uniform_at(seed, offset, i) >= p.
template <class T>
void apply_element_mask(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output,
                        const char* who) {
  const T scale = keep_scale(p, who);
  PNEUMA_CHECK(count >= 0, "%s: negative count", who);
  parallel_for(count, kGrainElements, [&](int64_t begin, int64_t end) {
    alignas(64) float uniform[kElementsPerBatch];
    for (int64_t batch_start = begin - begin % kElementsPerBatch; batch_start < end; batch_start += kElementsPerBatch) {
      uniform_batch(seed, offset, static_cast<uint64_t>(batch_start / 4), uniform);
      const int64_t first = std::max(begin, batch_start), last = std::min(end, batch_start + kElementsPerBatch);
      multiply_by_mask(last - first, input + first, uniform + (first - batch_start), p, scale, output + first);
    }
  });
}

// Sample b of `batch` is kept iff philox_uniform_at(seed, offset, b) >= p; output = input · factor[b].
template <class T>
void apply_sample_mask(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* input,
                       T* output, const char* who) {
  const T scale = keep_scale(p, who);
  PNEUMA_CHECK(batch >= 0 && per_sample >= 0, "%s: negative size", who);
  std::vector<T> factor(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b)
    factor[b] = philox_uniform_at(seed, offset, static_cast<uint64_t>(b)) >= p ? scale : T(0);
  parallel_for(batch * per_sample, kGrainElements, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    while (i < end) {
      const int64_t sample = i / per_sample;
      const int64_t sample_end = std::min(end, (sample + 1) * per_sample);
      const T f = factor[sample];
      for (; i < sample_end; ++i) output[i] = input[i] * f;
    }
  });
}

}  // namespace

template <class T>
void dropout_forward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output) {
  apply_element_mask(count, p, seed, offset, input, output, "dropout_forward");
}

template <class T>
void dropout_backward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* grad_output, T* grad_input) {
  apply_element_mask(count, p, seed, offset, grad_output, grad_input, "dropout_backward");
}

template <class T>
void drop_path_forward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* input,
                       T* output) {
  apply_sample_mask(batch, per_sample, p, seed, offset, input, output, "drop_path_forward");
}

template <class T>
void drop_path_backward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* grad_output,
                        T* grad_input) {
  apply_sample_mask(batch, per_sample, p, seed, offset, grad_output, grad_input, "drop_path_backward");
}

#define PNEUMA_INSTANTIATE_DROPOUT(T)                                                        \
  template void dropout_forward<T>(int64_t, T, uint64_t, uint64_t, const T*, T*);            \
  template void dropout_backward<T>(int64_t, T, uint64_t, uint64_t, const T*, T*);           \
  template void drop_path_forward<T>(int64_t, int64_t, T, uint64_t, uint64_t, const T*, T*); \
  template void drop_path_backward<T>(int64_t, int64_t, T, uint64_t, uint64_t, const T*, T*);
PNEUMA_INSTANTIATE_DROPOUT(float)
PNEUMA_INSTANTIATE_DROPOUT(double)
#undef PNEUMA_INSTANTIATE_DROPOUT

}  // namespace pneuma::kernels::cpu
