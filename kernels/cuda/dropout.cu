// Dropout and drop-path on CUDA with the CPU's Philox masks (kernels/cpu/dropout.cpp): element i is kept iff
// philox_uniform_at(seed, offset, i) >= p, kept values are multiplied by 1/(1−p) computed in T, dropped ones by 0
// (so NaN stays NaN). Forward and backward are the same mask applied to different tensors. Each dropout thread
// draws one Philox block, i.e. the uniforms of four consecutive elements.
#include "kernels/cuda/launch.h"
#include "kernels/dropout.h"
#include "kernels/philox.h"

namespace pneuma::kernels::cuda {
namespace {

template <class T>
T keep_scale(T p, const char* who) {
  PNEUMA_CHECK(p >= T(0) && p <= T(1), "%s (CUDA): drop probability must be in [0, 1], got %g", who,
               static_cast<double>(p));
  return p < T(1) ? T(1) / (T(1) - p) : T(0);
}

template <class T>
__global__ void element_mask_kernel(int64_t count, T p, T scale, uint64_t seed, uint64_t offset, const T* input,
                                    T* output) {
  const int64_t blocks = (count + 3) / 4;
  for (int64_t block = global_thread_index(); block < blocks; block += global_thread_count()) {
    const Philox4x32 words = philox_block(seed, offset, static_cast<uint64_t>(block));
    for (int word = 0; word < 4; ++word) {
      const int64_t i = block * 4 + word;
      if (i < count) output[i] = input[i] * (philox_uniform_float(words.value[word]) >= p ? scale : T(0));
    }
  }
}

template <class T>
void apply_element_mask(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output,
                        const char* who) {
  const T scale = keep_scale(p, who);
  PNEUMA_CHECK(count >= 0, "%s (CUDA): negative count", who);
  if (count == 0) return;
  PNEUMA_LAUNCH(element_mask_kernel<T>, grid_for((count + 3) / 4), kThreads, 0, count, p, scale, seed, offset, input,
                output);
}

template <class T>
__global__ void sample_factor_kernel(int64_t batch, T p, T scale, uint64_t seed, uint64_t offset, T* factor) {
  for (int64_t b = global_thread_index(); b < batch; b += global_thread_count())
    factor[b] = philox_uniform_at(seed, offset, static_cast<uint64_t>(b)) >= p ? scale : T(0);
}

template <class T>
__global__ void sample_mask_kernel(int64_t count, int64_t per_sample, const T* factor, const T* input, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count())
    output[i] = input[i] * factor[i / per_sample];
}

template <class T>
void apply_sample_mask(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* input,
                       T* output, const char* who) {
  const T scale = keep_scale(p, who);
  PNEUMA_CHECK(batch >= 0 && per_sample >= 0, "%s (CUDA): negative size", who);
  if (batch == 0 || per_sample == 0) return;
  T* factor = static_cast<T*>(workspace(sizeof(T) * batch, kTemporarySlot));
  PNEUMA_LAUNCH(sample_factor_kernel<T>, grid_for(batch), kThreads, 0, batch, p, scale, seed, offset, factor);
  const int64_t count = batch * per_sample;
  PNEUMA_LAUNCH(sample_mask_kernel<T>, grid_for(count), kThreads, 0, count, per_sample, factor, input, output);
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
#undef PNEUMA_INSTANTIATE_DROPOUT

}  // namespace pneuma::kernels::cuda
