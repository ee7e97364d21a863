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
  PNEUMA_CHECK(p >= T(0) && p <= T(1), "%s: drop probability must be in [0, 1], got %g", who,
               static_cast<double>(p));
  return p < T(1) ? T(1) / (T(1) - p) : T(0);
}

// output[i] = input[i] · (kept(i) ? scale : 0), kept(i) iff philox_uniform_at(seed, offset, i) >= p.
// One Philox call yields four consecutive elements' numbers.
template <class T>
void apply_element_mask(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output,
                        const char* who) {
  const T scale = keep_scale(p, who);
  PNEUMA_CHECK(count >= 0, "%s: negative count", who);
  parallel_for(count, kGrainElements, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    while (i < end) {
      const uint64_t block_index = static_cast<uint64_t>(i) >> 2;
      const Philox4x32 block = philox_block(seed, offset, block_index);
      const int64_t block_end = std::min<int64_t>(end, static_cast<int64_t>(block_index * 4 + 4));
      for (; i < block_end; ++i) {
        const float u = philox_uniform_float(block.value[i & 3]);
        output[i] = input[i] * (u >= p ? scale : T(0));
      }
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

#define PNEUMA_INSTANTIATE_DROPOUT(T)                                                                    \
  template void dropout_forward<T>(int64_t, T, uint64_t, uint64_t, const T*, T*);                       \
  template void dropout_backward<T>(int64_t, T, uint64_t, uint64_t, const T*, T*);                      \
  template void drop_path_forward<T>(int64_t, int64_t, T, uint64_t, uint64_t, const T*, T*);            \
  template void drop_path_backward<T>(int64_t, int64_t, T, uint64_t, uint64_t, const T*, T*);
PNEUMA_INSTANTIATE_DROPOUT(float)
PNEUMA_INSTANTIATE_DROPOUT(double)
#undef PNEUMA_INSTANTIATE_DROPOUT

}  // namespace pneuma::kernels::cpu
