// Optimizer updates over one flat parameter buffer, PyTorch semantics (torch.optim) unless noted.
#pragma once
#include <cstdint>

namespace pneuma::kernels {
struct SgdHyper {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  int64_t step = 1;                     // 1-based step count after this update, for bias correction
};
struct RmspropHyper {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;
  bool eps_inside_sqrt = false;  // TensorFlow/Keras: g / sqrt(v + eps); PyTorch: g / (sqrt(v) + eps)
};
namespace cpu {
// momentum_buffer may be null when momentum == 0. first_step: the buffer is initialised to the gradient.
template <class T>
void sgd_update(int64_t count, const SgdHyper& h, bool first_step, T* param, const T* grad, T* momentum_buffer);
template <class T>
void adam_update(int64_t count, const AdamHyper& h, T* param, const T* grad, T* exp_avg, T* exp_avg_sq);
// momentum_buffer null when momentum == 0; grad_avg null unless centered.
template <class T>
void rmsprop_update(int64_t count, const RmspropHyper& h, T* param, const T* grad, T* square_avg, T* momentum_buffer,
                    T* grad_avg);
}  // namespace cpu

// CUDA (kernels/cuda/optim.cu): multi-tensor updates. Each call updates every listed parameter tensor — each with
// its own hyper-parameters (learning rate and weight decay per group, step per parameter) — in as few launches as
// the kernel-parameter space allows (up to 128 tensors per launch), with the CPU's per-element arithmetic. Device
// pointers; instantiated for float.
namespace cuda {
template <class T>
struct SgdTensor {
  T* param;
  const T* grad;
  T* momentum_buffer;  // null when momentum == 0
  int64_t count;
  SgdHyper hyper;
  bool first_step;  // the momentum buffer is initialised to the gradient
};
template <class T>
struct AdamTensor {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t count;
  AdamHyper hyper;
};
template <class T>
struct RmspropTensor {
  T* param;
  const T* grad;
  T* square_avg;
  T* momentum_buffer;  // null when momentum == 0
  T* grad_avg;         // null unless centered
  int64_t count;
  RmspropHyper hyper;
};
template <class T>
void sgd_update_many(const SgdTensor<T>* tensors, size_t tensor_count);
template <class T>
void adam_update_many(const AdamTensor<T>* tensors, size_t tensor_count);
template <class T>
void rmsprop_update_many(const RmspropTensor<T>* tensors, size_t tensor_count);
}  // namespace cuda
}  // namespace pneuma::kernels
