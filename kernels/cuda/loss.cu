// Classification losses on CUDA, forward and backward side by side, with the CPU reference's formulas
// (kernels/cpu/loss.cpp): per-row and per-element terms in double, each row handled serially by one thread in the
// CPU's order, means as deterministic reductions (reduce.cuh). The loss lands in a device scalar and the backward
// reads d(total)/d(loss) from one, so nothing waits for the host.
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/loss.h"

namespace pneuma::kernels::cuda {
namespace {

void check_rows_classes(const char* loss, int64_t rows, int64_t classes) {
  PNEUMA_CHECK(rows > 0, "%s (CUDA): rows must be positive, got %lld", loss, static_cast<long long>(rows));
  PNEUMA_CHECK(classes > 0, "%s (CUDA): classes must be positive, got %lld", loss, static_cast<long long>(classes));
}

template <class T>
__device__ __forceinline__ double weight_of(const T* weights, int64_t k) {
  return weights ? static_cast<double>(weights[k]) : 1.0;
}

// log Σ_k exp(z_k), stable.
template <class T>
__device__ double log_sum_exp(const T* z, int64_t classes) {
  double max_value = z[0];
  for (int64_t k = 1; k < classes; ++k) max_value = fmax(max_value, static_cast<double>(z[k]));
  if (isinf(max_value)) return max_value;
  double total = 0;
  for (int64_t k = 0; k < classes; ++k) total += exp(static_cast<double>(z[k]) - max_value);
  return max_value + log(total);
}

__device__ __forceinline__ double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}
__device__ __forceinline__ double softplus_of_negative(double x) { return fmax(-x, 0.0) + log1p(exp(-fabs(x))); }

// d(q^γ)/dq, with the product's limit at q = 0 (see the CPU reference).
__device__ __forceinline__ double focal_power_derivative(double q, double gamma) {
  if (gamma == 0) return 0.0;
  if (q <= 0) return gamma == 1 ? 1.0 : 0.0;
  return gamma * pow(q, gamma - 1);
}

struct FocalTerm {
  double loss, derivative;
};
__device__ FocalTerm binary_focal_term(double x, double y, double alpha, double gamma) {
  const double p = sigmoid(x), one_minus_p = sigmoid(-x);
  const double ce = (1 - y) * x + softplus_of_negative(x);
  const double q = y * one_minus_p + (1 - y) * p;
  const double alpha_t = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1.0;
  const double modulator = pow(q, gamma);
  const double dq_dx = (1 - 2 * y) * p * one_minus_p;
  const double derivative = alpha_t * ((p - y) * modulator + ce * focal_power_derivative(q, gamma) * dq_dx);
  return {alpha_t * ce * modulator, derivative};
}

// Σ_i w[t_i] (or rows) and Σ_k w_k (or classes) into sums[0..1] on the device.
template <class T>
void weight_totals(int64_t rows, int64_t classes, const int32_t* targets, const T* class_weights, double* sums) {
  reduce_all<double, 2>(
      rows > classes ? rows : classes,
      [=] __device__(int64_t i, double(&local)[2]) {
        if (i < rows) local[0] += weight_of(class_weights, targets[i]);
        if (i < classes) local[1] += weight_of(class_weights, i);
      },
      [=] __device__(const Totals<double, 2>& totals) {
        sums[0] = totals.value[0];
        sums[1] = totals.value[1];
      });
}

template <class T>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                                              const T* class_weights, double smoothing, const T* grad_loss,
                                              const double* sums, T* grad_logits) {
  const double scale = static_cast<double>(grad_loss[0]) / sums[0];
  const double weight_sum = sums[1];
  const double smooth_per_class = smoothing / static_cast<double>(classes);
  for (int64_t i = global_thread_index(); i < rows; i += global_thread_count()) {
    const T* z = logits + i * classes;
    T* grad = grad_logits + i * classes;
    const double lse = log_sum_exp(z, classes);
    const int32_t t = targets[i];
    const double target_term = (1 - smoothing) * weight_of(class_weights, t);
    for (int64_t k = 0; k < classes; ++k) {
      const double p = exp(static_cast<double>(z[k]) - lse);
      const double p_minus_target = k == t ? p - 1 : p;
      const double smooth = smooth_per_class * (weight_sum * p - weight_of(class_weights, k));
      grad[k] = static_cast<T>(scale * (target_term * p_minus_target + smooth));
    }
  }
}

template <class T>
__global__ void bce_backward_kernel(int64_t count, int64_t classes, const T* logits, const T* targets,
                                    const T* pos_weight, const T* grad_loss, T* grad_logits) {
  const double scale = static_cast<double>(grad_loss[0]) / static_cast<double>(count);
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const double x = logits[i], y = targets[i];
    const double pw = pos_weight ? static_cast<double>(pos_weight[i % classes]) : 1.0;
    grad_logits[i] = static_cast<T>(scale * (sigmoid(x) * (pw * y + 1 - y) - pw * y));
  }
}

template <class T>
__global__ void binary_focal_backward_kernel(int64_t count, const T* logits, const T* targets, double alpha,
                                             double gamma, const T* grad_loss, T* grad_logits) {
  const double scale = static_cast<double>(grad_loss[0]) / static_cast<double>(count);
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count())
    grad_logits[i] = static_cast<T>(scale * binary_focal_term(logits[i], targets[i], alpha, gamma).derivative);
}

template <class T>
__global__ void focal_backward_kernel(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                                      const T* alpha, double gamma, const T* grad_loss, T* grad_logits) {
  const double scale = static_cast<double>(grad_loss[0]) / static_cast<double>(rows);
  for (int64_t i = global_thread_index(); i < rows; i += global_thread_count()) {
    const T* z = logits + i * classes;
    T* grad = grad_logits + i * classes;
    const int32_t t = targets[i];
    const double lse = log_sum_exp(z, classes);
    const double log_p = static_cast<double>(z[t]) - lse;
    const double p_t = exp(log_p);
    const double q = -expm1(log_p);
    const double factor = scale * weight_of(alpha, t) * (pow(q, gamma) - focal_power_derivative(q, gamma) * p_t * log_p);
    for (int64_t k = 0; k < classes; ++k) grad[k] = static_cast<T>(factor * exp(static_cast<double>(z[k]) - lse));
    grad[t] = static_cast<T>(-factor * q);
  }
}

}  // namespace

int64_t count_invalid_targets(int64_t rows, int64_t classes, const int32_t* targets) {
  PNEUMA_CHECK(rows >= 0, "count_invalid_targets (CUDA): negative rows");
  double* result = static_cast<double*>(workspace(sizeof(double), kTemporarySlot));
  reduce_all<double, 1>(
      rows,
      [=] __device__(int64_t i, double(&local)[1]) { local[0] += targets[i] < 0 || targets[i] >= classes ? 1.0 : 0.0; },
      [=] __device__(const Totals<double, 1>& totals) { result[0] = totals.value[0]; });
  double host = 0;
  CUDA_CHECK(cudaMemcpy(&host, result, sizeof host, cudaMemcpyDeviceToHost));
  return static_cast<int64_t>(host);
}

// ---- cross-entropy --------------------------------------------------------------------------------------------
template <class T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                           const T* class_weights, T label_smoothing, T* loss) {
  check_rows_classes("cross_entropy", rows, classes);
  const double smoothing = label_smoothing;
  PNEUMA_CHECK(smoothing >= 0 && smoothing <= 1, "cross_entropy (CUDA): label_smoothing %g outside [0, 1]",
               smoothing);
  reduce_all<double, 2>(
      rows,
      [=] __device__(int64_t i, double(&local)[2]) {
        const T* z = logits + i * classes;
        const double lse = log_sum_exp(z, classes);
        const int32_t t = targets[i];
        double row_loss = (1 - smoothing) * weight_of(class_weights, t) * (lse - static_cast<double>(z[t]));
        if (smoothing > 0) {
          double smooth = 0;
          for (int64_t k = 0; k < classes; ++k) smooth += weight_of(class_weights, k) * (lse - static_cast<double>(z[k]));
          row_loss += smoothing / static_cast<double>(classes) * smooth;
        }
        local[0] += row_loss;
        local[1] += weight_of(class_weights, t);  // the mean's normaliser
      },
      [=] __device__(const Totals<double, 2>& totals) { loss[0] = static_cast<T>(totals.value[0] / totals.value[1]); });
}

template <class T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                            const T* class_weights, T label_smoothing, const T* grad_loss, T* grad_logits) {
  check_rows_classes("cross_entropy", rows, classes);
  const double smoothing = label_smoothing;
  PNEUMA_CHECK(smoothing >= 0 && smoothing <= 1, "cross_entropy (CUDA): label_smoothing %g outside [0, 1]",
               smoothing);
  double* sums = static_cast<double*>(workspace(2 * sizeof(double), kTemporarySlot));
  weight_totals(rows, classes, targets, class_weights, sums);
  PNEUMA_LAUNCH(cross_entropy_backward_kernel<T>, grid_for(rows), kThreads, 0, rows, classes, logits, targets,
                class_weights, smoothing, grad_loss, sums, grad_logits);
}

// ---- binary cross-entropy with logits -------------------------------------------------------------------------
namespace {
void check_bce_shape(int64_t count, int64_t classes, bool has_pos_weight) {
  PNEUMA_CHECK(count > 0, "bce_with_logits (CUDA): count must be positive, got %lld", static_cast<long long>(count));
  if (has_pos_weight)
    PNEUMA_CHECK(classes > 0 && count % classes == 0,
                 "bce_with_logits (CUDA): pos_weight has %lld entries, which must divide the element count %lld",
                 static_cast<long long>(classes), static_cast<long long>(count));
}
}  // namespace

template <class T>
void bce_with_logits_forward(int64_t count, int64_t classes, const T* logits, const T* targets, const T* pos_weight,
                             T* loss) {
  check_bce_shape(count, classes, pos_weight != nullptr);
  reduce_all<double, 1>(
      count,
      [=] __device__(int64_t i, double(&local)[1]) {
        const double x = logits[i], y = targets[i];
        const double log_weight = pos_weight ? (static_cast<double>(pos_weight[i % classes]) - 1) * y + 1 : 1.0;
        local[0] += (1 - y) * x + log_weight * softplus_of_negative(x);
      },
      [=] __device__(const Totals<double, 1>& totals) {
        loss[0] = static_cast<T>(totals.value[0] / static_cast<double>(count));
      });
}

template <class T>
void bce_with_logits_backward(int64_t count, int64_t classes, const T* logits, const T* targets, const T* pos_weight,
                              const T* grad_loss, T* grad_logits) {
  check_bce_shape(count, classes, pos_weight != nullptr);
  PNEUMA_LAUNCH(bce_backward_kernel<T>, grid_for(count), kThreads, 0, count, classes, logits, targets, pos_weight,
                grad_loss, grad_logits);
}

// ---- binary focal loss ----------------------------------------------------------------------------------------
template <class T>
void binary_focal_loss_forward(int64_t count, const T* logits, const T* targets, T alpha, T gamma, T* loss) {
  PNEUMA_CHECK(count > 0, "binary_focal_loss (CUDA): count must be positive, got %lld", static_cast<long long>(count));
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss (CUDA): gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double a = alpha, g = gamma;
  reduce_all<double, 1>(
      count,
      [=] __device__(int64_t i, double(&local)[1]) { local[0] += binary_focal_term(logits[i], targets[i], a, g).loss; },
      [=] __device__(const Totals<double, 1>& totals) {
        loss[0] = static_cast<T>(totals.value[0] / static_cast<double>(count));
      });
}

template <class T>
void binary_focal_loss_backward(int64_t count, const T* logits, const T* targets, T alpha, T gamma, const T* grad_loss,
                                T* grad_logits) {
  PNEUMA_CHECK(count > 0, "binary_focal_loss (CUDA): count must be positive, got %lld", static_cast<long long>(count));
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss (CUDA): gamma must be >= 0, got %g", static_cast<double>(gamma));
  PNEUMA_LAUNCH(binary_focal_backward_kernel<T>, grid_for(count), kThreads, 0, count, logits, targets,
                static_cast<double>(alpha), static_cast<double>(gamma), grad_loss, grad_logits);
}

// ---- multi-class focal loss -----------------------------------------------------------------------------------
template <class T>
void focal_loss_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                        T gamma, T* loss) {
  check_rows_classes("focal_loss", rows, classes);
  PNEUMA_CHECK(gamma >= 0, "focal_loss (CUDA): gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double g = gamma;
  reduce_all<double, 1>(
      rows,
      [=] __device__(int64_t i, double(&local)[1]) {
        const T* z = logits + i * classes;
        const int32_t t = targets[i];
        const double log_p = static_cast<double>(z[t]) - log_sum_exp(z, classes);
        const double q = -expm1(log_p);
        local[0] += -weight_of(alpha, t) * pow(q, g) * log_p;
      },
      [=] __device__(const Totals<double, 1>& totals) {
        loss[0] = static_cast<T>(totals.value[0] / static_cast<double>(rows));
      });
}

template <class T>
void focal_loss_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                         T gamma, const T* grad_loss, T* grad_logits) {
  check_rows_classes("focal_loss", rows, classes);
  PNEUMA_CHECK(gamma >= 0, "focal_loss (CUDA): gamma must be >= 0, got %g", static_cast<double>(gamma));
  PNEUMA_LAUNCH(focal_backward_kernel<T>, grid_for(rows), kThreads, 0, rows, classes, logits, targets, alpha,
                static_cast<double>(gamma), grad_loss, grad_logits);
}

#define PNEUMA_INSTANTIATE_LOSS(T)                                                                               \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T*);           \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, const T*, T*); \
  template void bce_with_logits_forward<T>(int64_t, int64_t, const T*, const T*, const T*, T*);                  \
  template void bce_with_logits_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, T*);       \
  template void binary_focal_loss_forward<T>(int64_t, const T*, const T*, T, T, T*);                             \
  template void binary_focal_loss_backward<T>(int64_t, const T*, const T*, T, T, const T*, T*);                  \
  template void focal_loss_forward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T*);              \
  template void focal_loss_backward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, const T*, T*);
PNEUMA_INSTANTIATE_LOSS(float)
#undef PNEUMA_INSTANTIATE_LOSS

}  // namespace pneuma::kernels::cuda
