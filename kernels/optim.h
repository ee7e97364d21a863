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
}  // namespace pneuma::kernels
