// Classification losses from logits (see kernels/loss.h for the formulas). Per-row and per-element work runs in
// double whatever T is; the mean is accumulated in double over fixed chunks, so forward values do not depend on
// the thread count. Backward passes write each gradient element from exactly one thread.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "kernels/loss.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kWorkPerTask = 1 << 14;  // elements (rows · classes) per reduction chunk / thread task

// Rows per chunk so a chunk holds about kWorkPerTask logits; depends only on the shape.
int64_t rows_per_chunk(int64_t classes) { return std::max<int64_t>(1, kWorkPerTask / std::max<int64_t>(1, classes)); }

// Σ_i term(i) for i in [0, count), in double, over fixed chunks combined in order.
template <class Term>
double deterministic_sum(int64_t count, int64_t chunk, Term&& term) {
  const int64_t chunks = chunk_count(count, chunk);
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallel_for_chunks(count, chunk, [&](int64_t c, int64_t begin, int64_t end) {
    double total = 0;
    for (int64_t i = begin; i < end; ++i) total += term(i);
    partial[c] = total;
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void check_rows_classes(const char* loss, int64_t rows, int64_t classes) {
  PNEUMA_CHECK(rows > 0, "%s: rows must be positive, got %lld", loss, static_cast<long long>(rows));
  PNEUMA_CHECK(classes > 0, "%s: classes must be positive, got %lld", loss, static_cast<long long>(classes));
}

// Validates every target before any threaded work (an exception must not escape a parallel region).
void check_targets(const char* loss, int64_t rows, int64_t classes, const int32_t* targets) {
  for (int64_t i = 0; i < rows; ++i)
    PNEUMA_CHECK(targets[i] >= 0 && targets[i] < classes, "%s: target of row %lld is %d, outside [0, %lld)", loss,
                 static_cast<long long>(i), targets[i], static_cast<long long>(classes));
}

// log Σ_k exp(z_k), stable.
template <class T>
double log_sum_exp(const T* z, int64_t classes) {
  double max_value = z[0];
  for (int64_t k = 1; k < classes; ++k) max_value = std::max(max_value, static_cast<double>(z[k]));
  if (std::isinf(max_value)) return max_value;  // ±Inf row: avoid Inf − Inf
  double total = 0;
  for (int64_t k = 0; k < classes; ++k) total += std::exp(static_cast<double>(z[k]) - max_value);
  return max_value + std::log(total);
}

// Stable pieces of the sigmoid: σ(x), 1 − σ(x) = σ(−x), and softplus(−x) = −log σ(x).
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
inline double softplus_of_negative(double x) { return std::max(-x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

// Cross-entropy: the mean's normaliser, Σ_i w[t_i] (or rows), and Σ_k w_k (or classes).
template <class T>
double target_weight_total(int64_t rows, const int32_t* targets, const T* class_weights) {
  if (!class_weights) return static_cast<double>(rows);
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) total += static_cast<double>(class_weights[targets[i]]);
  return total;
}
template <class T>
double class_weight_total(int64_t classes, const T* class_weights) {
  if (!class_weights) return static_cast<double>(classes);
  double total = 0;
  for (int64_t k = 0; k < classes; ++k) total += static_cast<double>(class_weights[k]);
  return total;
}
template <class T>
inline double weight_of(const T* weights, int64_t k) {
  return weights ? static_cast<double>(weights[k]) : 1.0;
}

// d(q^γ)/dq = γ·q^(γ−1) for the focal modulator, q = 1 − p_t. At q = 0 it multiplies a factor that vanishes at
// least as fast as q, so we return the product's limit there (0, or 1 for γ = 1) instead of Inf · 0.
inline double focal_power_derivative(double q, double gamma) {
  if (gamma == 0) return 0.0;
  if (q <= 0) return gamma == 1 ? 1.0 : 0.0;
  return gamma * std::pow(q, gamma - 1);
}

}  // namespace

// ---- cross-entropy ------------------------------------------------------------------------------------------

template <class T>
T cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                        const T* class_weights, T label_smoothing) {
  check_rows_classes("cross_entropy", rows, classes);
  check_targets("cross_entropy", rows, classes, targets);
  const double smoothing = label_smoothing;
  PNEUMA_CHECK(smoothing >= 0 && smoothing <= 1, "cross_entropy: label_smoothing %g outside [0, 1]", smoothing);
  const double normaliser = target_weight_total(rows, targets, class_weights);
  const double total = deterministic_sum(rows, rows_per_chunk(classes), [&](int64_t i) {
    const T* z = logits + i * classes;
    const double lse = log_sum_exp(z, classes);
    const int32_t t = targets[i];
    double loss = (1 - smoothing) * weight_of(class_weights, t) * (lse - static_cast<double>(z[t]));
    if (smoothing > 0) {
      double smooth = 0;
      for (int64_t k = 0; k < classes; ++k)
        smooth += weight_of(class_weights, k) * (lse - static_cast<double>(z[k]));
      loss += smoothing / static_cast<double>(classes) * smooth;
    }
    return loss;
  });
  return static_cast<T>(total / normaliser);
}

template <class T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets,
                            const T* class_weights, T label_smoothing, T grad_loss, T* grad_logits) {
  check_rows_classes("cross_entropy", rows, classes);
  check_targets("cross_entropy", rows, classes, targets);
  const double smoothing = label_smoothing;
  PNEUMA_CHECK(smoothing >= 0 && smoothing <= 1, "cross_entropy: label_smoothing %g outside [0, 1]", smoothing);
  const double scale = static_cast<double>(grad_loss) / target_weight_total(rows, targets, class_weights);
  const double weight_sum = class_weight_total(classes, class_weights);
  const double smooth_per_class = smoothing / static_cast<double>(classes);
  // ∂L_i/∂z_k = (1−ε)·w_t·(p_k − [k = t]) + (ε/K)·(Σw·p_k − w_k)
  parallel_for(rows, rows_per_chunk(classes), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* z = logits + i * classes;
      T* grad = grad_logits + i * classes;
      const double lse = log_sum_exp(z, classes);
      const int32_t t = targets[i];
      const double target_term = (1 - smoothing) * weight_of(class_weights, t);
      for (int64_t k = 0; k < classes; ++k) {
        const double p = std::exp(static_cast<double>(z[k]) - lse);
        const double p_minus_target = k == t ? p - 1 : p;
        const double smooth = smooth_per_class * (weight_sum * p - weight_of(class_weights, k));
        grad[k] = static_cast<T>(scale * (target_term * p_minus_target + smooth));
      }
    }
  });
}

// ---- binary cross-entropy with logits -----------------------------------------------------------------------

namespace {
void check_bce_shape(const char* loss, int64_t count, int64_t classes, bool has_pos_weight) {
  PNEUMA_CHECK(count > 0, "%s: count must be positive, got %lld", loss, static_cast<long long>(count));
  if (has_pos_weight)
    PNEUMA_CHECK(classes > 0 && count % classes == 0,
                 "%s: pos_weight has %lld entries, which must divide the element count %lld", loss,
                 static_cast<long long>(classes), static_cast<long long>(count));
}
}  // namespace

template <class T>
T bce_with_logits_forward(int64_t count, int64_t classes, const T* logits, const T* targets, const T* pos_weight) {
  check_bce_shape("bce_with_logits", count, classes, pos_weight != nullptr);
  // loss = (1−y)·x + (pw·y + 1 − y)·softplus(−x)   (PyTorch's log_weight form)
  const double total = deterministic_sum(count, kWorkPerTask, [&](int64_t i) {
    const double x = logits[i], y = targets[i];
    const double log_weight = pos_weight ? (static_cast<double>(pos_weight[i % classes]) - 1) * y + 1 : 1.0;
    return (1 - y) * x + log_weight * softplus_of_negative(x);
  });
  return static_cast<T>(total / static_cast<double>(count));
}

template <class T>
void bce_with_logits_backward(int64_t count, int64_t classes, const T* logits, const T* targets,
                              const T* pos_weight, T grad_loss, T* grad_logits) {
  check_bce_shape("bce_with_logits", count, classes, pos_weight != nullptr);
  const double scale = static_cast<double>(grad_loss) / static_cast<double>(count);
  // ∂/∂x = σ(x)·(pw·y + 1 − y) − pw·y
  parallel_for(count, kWorkPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double x = logits[i], y = targets[i];
      const double pw = pos_weight ? static_cast<double>(pos_weight[i % classes]) : 1.0;
      grad_logits[i] = static_cast<T>(scale * (sigmoid(x) * (pw * y + 1 - y) - pw * y));
    }
  });
}

// ---- binary focal loss (torchvision.ops.sigmoid_focal_loss) -------------------------------------------------

namespace {
// One element's focal loss and its derivative. torchvision: ce = BCE(x, y), p_t = p·y + (1−p)(1−y),
// loss = α_t · ce · (1 − p_t)^γ. With q = 1 − p_t = y·σ(−x) + (1−y)·σ(x): ∂q/∂x = (1 − 2y)·σ(x)σ(−x).
struct FocalTerm {
  double loss, derivative;
};
inline FocalTerm binary_focal_term(double x, double y, double alpha, double gamma) {
  const double p = sigmoid(x), one_minus_p = sigmoid(-x);
  const double ce = (1 - y) * x + softplus_of_negative(x);
  const double q = y * one_minus_p + (1 - y) * p;
  const double alpha_t = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1.0;
  const double modulator = std::pow(q, gamma);  // pow(0, 0) = 1
  const double dq_dx = (1 - 2 * y) * p * one_minus_p;
  const double derivative = alpha_t * ((p - y) * modulator + ce * focal_power_derivative(q, gamma) * dq_dx);
  return {alpha_t * ce * modulator, derivative};
}
}  // namespace

template <class T>
T binary_focal_loss_forward(int64_t count, const T* logits, const T* targets, T alpha, T gamma) {
  PNEUMA_CHECK(count > 0, "binary_focal_loss: count must be positive, got %lld", static_cast<long long>(count));
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss: gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double total = deterministic_sum(count, kWorkPerTask, [&](int64_t i) {
    return binary_focal_term(logits[i], targets[i], alpha, gamma).loss;
  });
  return static_cast<T>(total / static_cast<double>(count));
}

template <class T>
void binary_focal_loss_backward(int64_t count, const T* logits, const T* targets, T alpha, T gamma, T grad_loss,
                                T* grad_logits) {
  PNEUMA_CHECK(count > 0, "binary_focal_loss: count must be positive, got %lld", static_cast<long long>(count));
  PNEUMA_CHECK(gamma >= 0, "binary_focal_loss: gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double scale = static_cast<double>(grad_loss) / static_cast<double>(count);
  parallel_for(count, kWorkPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      grad_logits[i] = static_cast<T>(scale * binary_focal_term(logits[i], targets[i], alpha, gamma).derivative);
  });
}

// ---- multi-class focal loss ---------------------------------------------------------------------------------

template <class T>
T focal_loss_forward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                     T gamma) {
  check_rows_classes("focal_loss", rows, classes);
  check_targets("focal_loss", rows, classes, targets);
  PNEUMA_CHECK(gamma >= 0, "focal_loss: gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double total = deterministic_sum(rows, rows_per_chunk(classes), [&](int64_t i) {
    const T* z = logits + i * classes;
    const int32_t t = targets[i];
    const double log_p = static_cast<double>(z[t]) - log_sum_exp(z, classes);
    const double q = -std::expm1(log_p);  // 1 − p_t without cancellation
    return -weight_of(alpha, t) * std::pow(q, static_cast<double>(gamma)) * log_p;
  });
  return static_cast<T>(total / static_cast<double>(rows));
}

template <class T>
void focal_loss_backward(int64_t rows, int64_t classes, const T* logits, const int32_t* targets, const T* alpha,
                         T gamma, T grad_loss, T* grad_logits) {
  check_rows_classes("focal_loss", rows, classes);
  check_targets("focal_loss", rows, classes, targets);
  PNEUMA_CHECK(gamma >= 0, "focal_loss: gamma must be >= 0, got %g", static_cast<double>(gamma));
  const double scale = static_cast<double>(grad_loss) / static_cast<double>(rows);
  const double g = gamma;
  // With q = 1 − p_t: ∂FL/∂z_k = α_t·(p_k − [k = t])·(q^γ − γ·q^(γ−1)·p_t·log p_t).
  parallel_for(rows, rows_per_chunk(classes), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* z = logits + i * classes;
      T* grad = grad_logits + i * classes;
      const int32_t t = targets[i];
      const double lse = log_sum_exp(z, classes);
      const double log_p = static_cast<double>(z[t]) - lse;
      const double p_t = std::exp(log_p);
      const double q = -std::expm1(log_p);
      const double factor =
          scale * weight_of(alpha, t) * (std::pow(q, g) - focal_power_derivative(q, g) * p_t * log_p);
      for (int64_t k = 0; k < classes; ++k)
        grad[k] = static_cast<T>(factor * std::exp(static_cast<double>(z[k]) - lse));
      grad[t] = static_cast<T>(-factor * q);  // p_t − 1 = −q, exact
    }
  });
}

#define PNEUMA_INSTANTIATE_LOSS(T)                                                                              \
  template T cross_entropy_forward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T);                  \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T, T*);       \
  template T bce_with_logits_forward<T>(int64_t, int64_t, const T*, const T*, const T*);                         \
  template void bce_with_logits_backward<T>(int64_t, int64_t, const T*, const T*, const T*, T, T*);             \
  template T binary_focal_loss_forward<T>(int64_t, const T*, const T*, T, T);                                    \
  template void binary_focal_loss_backward<T>(int64_t, const T*, const T*, T, T, T, T*);                         \
  template T focal_loss_forward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T);                     \
  template void focal_loss_backward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T, T*);
PNEUMA_INSTANTIATE_LOSS(float)
PNEUMA_INSTANTIATE_LOSS(double)
#undef PNEUMA_INSTANTIATE_LOSS

}  // namespace pneuma::kernels::cpu
