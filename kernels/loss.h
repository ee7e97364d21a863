// Classification losses, all with mean reduction, numerically stable from logits. Each *_backward writes
// d(loss)/d(logits) · grad_loss (overwrites).
#pragma once
#include <cstdint>

namespace pneuma::kernels::cpu {

// Multi-class cross-entropy, PyTorch semantics. logits [rows, classes], targets [rows] in [0, classes).
// class_weights (nullable) [classes]. With weights the mean divides by Σ_i w[target_i].
// Label smoothing ε: loss_i = (1-ε)·(−w[t_i]·log p[t_i]) + (ε/K)·Σ_k (−w[k]·log p[k]).
template <class T>
T cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                        const T* class_weights, T label_smoothing);
template <class T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                            const T* class_weights, T label_smoothing, T grad_loss, T* grad_logits);

// Binary cross-entropy with logits, mean over all count elements; targets in [0, 1].
// pos_weight (nullable) has `classes` entries and broadcasts over the last axis (count = rows · classes):
// loss = −[pw·y·log σ(x) + (1−y)·log(1−σ(x))].
template <class T>
T bce_with_logits_forward(int64_t count, int64_t classes, const T* logits, const T* targets, const T* pos_weight);
template <class T>
void bce_with_logits_backward(int64_t count, int64_t classes, const T* logits, const T* targets,
                              const T* pos_weight, T grad_loss, T* grad_logits);

// Binary focal loss (Lin et al.) on sigmoid logits, mean over count elements:
// FL = −α_t (1−p_t)^γ log p_t with p_t = σ(x) if y = 1 else 1−σ(x), α_t = α·y + (1−α)(1−y); α < 0 disables α.
// Soft targets y ∈ [0,1] are allowed (p_t, α_t interpolate linearly as in torchvision's sigmoid_focal_loss).
template <class T>
T binary_focal_loss_forward(int64_t count, const T* logits, const T* targets, T alpha, T gamma);
template <class T>
void binary_focal_loss_backward(int64_t count, const T* logits, const T* targets, T alpha, T gamma, T grad_loss,
                                T* grad_logits);

// Multi-class focal loss on softmax logits: FL_i = −α[t_i]·(1−p_{t_i})^γ·log p_{t_i}, mean over rows (plain mean,
// not weight-normalised). alpha (nullable) [classes].
template <class T>
T focal_loss_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                     T gamma);
template <class T>
void focal_loss_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                         T gamma, T grad_loss, T* grad_logits);
}  // namespace pneuma::kernels::cpu

// CUDA (kernels/cuda/loss.cu): the same losses with the loss written to a device scalar (`loss`, one element) and
// the backward scaled by a device scalar (`grad_loss`), so a training step never waits for the host. Per-row and
// per-element terms are computed in double as on the CPU; the mean is a deterministic reduction. Targets are not
// range-checked by these kernels: call count_invalid_targets first. Instantiated for float.
namespace pneuma::kernels::cuda {
// How many of `rows` class targets lie outside [0, classes) (waits for the device).
int64_t count_invalid_targets(int64_t rows, int64_t classes, const int32_t* targets);
template <class T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                           const T* class_weights, T label_smoothing, T* loss);
template <class T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                            const T* class_weights, T label_smoothing, const T* grad_loss, T* grad_logits);
template <class T>
void bce_with_logits_forward(int64_t count, int64_t classes, const T* logits, const T* targets, const T* pos_weight,
                             T* loss);
template <class T>
void bce_with_logits_backward(int64_t count, int64_t classes, const T* logits, const T* targets,
                              const T* pos_weight, const T* grad_loss, T* grad_logits);
template <class T>
void binary_focal_loss_forward(int64_t count, const T* logits, const T* targets, T alpha, T gamma, T* loss);
template <class T>
void binary_focal_loss_backward(int64_t count, const T* logits, const T* targets, T alpha, T gamma,
                                const T* grad_loss, T* grad_logits);
template <class T>
void focal_loss_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                        T gamma, T* loss);
template <class T>
void focal_loss_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                         T gamma, const T* grad_loss, T* grad_logits);
}  // namespace pneuma::kernels::cuda
