// Optimizer updates, element by element in the parameter's own precision T, following torch.optim (PyTorch 1.13,
// single-tensor path) operation by operation: each Python-level tensor op is one rounding step here, and its
// Python-float scalars are converted to T as ATen does. Scalars derived from the hyper-parameters (bias
// corrections, step sizes) are computed in double first, as Python does.
//
// Each update is a chunk function with __restrict buffers and its constants passed by value, so g++ needs no
// run-time alias checks and vectorises the loop (the sqrt in Adam/RMSprop vectorises only with -fno-math-errno).
#include <cmath>
#include <type_traits>

#include "kernels/error.h"
#include "kernels/optim.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kUpdateGrain = 1 << 14;

template <class T>
struct SgdConstants {
  T weight_decay, momentum, one_minus_dampening, negative_lr;
  bool use_weight_decay, use_momentum, nesterov, first_step;
};

template <class T>
void sgd_chunk(int64_t begin, int64_t end, const SgdConstants<T> c, T* __restrict param, const T* __restrict grad,
               T* __restrict momentum_buffer) {
  for (int64_t i = begin; i < end; ++i) {
    T d_p = grad[i];
    if (c.use_weight_decay) d_p = d_p + c.weight_decay * param[i];  // d_p.add(param, alpha=weight_decay)
    if (c.use_momentum) {
      T buffer = d_p;  // first step: torch.clone(d_p)
      if (!c.first_step) {
        buffer = momentum_buffer[i] * c.momentum;         // buf.mul_(momentum)
        buffer = buffer + c.one_minus_dampening * d_p;   // .add_(d_p, alpha=1 - dampening)
      }
      momentum_buffer[i] = buffer;
      d_p = c.nesterov ? d_p + c.momentum * buffer : buffer;  // d_p.add(buf, alpha=momentum) or buf
    }
    param[i] = param[i] + c.negative_lr * d_p;  // param.add_(d_p, alpha=-lr)
  }
}

template <class T>
struct AdamConstants {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decoupled_decay_factor;
  T negative_step_size, bias_correction2_sqrt;
  bool coupled_decay, decoupled_decay;
};

template <class T>
void adam_chunk(int64_t begin, int64_t end, const AdamConstants<T> c, T* __restrict param, const T* __restrict grad,
                T* __restrict exp_avg, T* __restrict exp_avg_sq) {
  for (int64_t i = begin; i < end; ++i) {
    T p = param[i];
    T g = grad[i];
    if (c.decoupled_decay) p = p * c.decoupled_decay_factor;  // AdamW: param.mul_(1 - lr * weight_decay)
    if (c.coupled_decay) g = g + c.weight_decay * p;           // Adam: grad.add(param, alpha=weight_decay)
    T m = exp_avg[i] * c.beta1;
    m = m + c.one_minus_beta1 * g;  // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    T v = exp_avg_sq[i] * c.beta2;
    v = v + c.one_minus_beta2 * g * g;  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    const T denominator = std::sqrt(v) / c.bias_correction2_sqrt + c.eps;  // (exp_avg_sq.sqrt() / bc2).add_(eps)
    p = p + c.negative_step_size * m / denominator;  // param.addcdiv_(exp_avg, denom, value=-step_size)
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p;
  }
}

template <class T>
struct RmspropConstants {
  T alpha, one_minus_alpha, eps, weight_decay, momentum, negative_lr;
  bool use_weight_decay;
};

// The variant switches are template parameters: a loop-invariant select blocks g++'s vectoriser.
template <class T, bool Centered, bool Momentum, bool EpsInsideSqrt>
void rmsprop_chunk(int64_t begin, int64_t end, const RmspropConstants<T> c, T* __restrict param,
                   const T* __restrict grad, T* __restrict square_avg, T* __restrict momentum_buffer,
                   T* __restrict grad_avg) {
  for (int64_t i = begin; i < end; ++i) {
    T g = grad[i];
    if (c.use_weight_decay) g = g + c.weight_decay * param[i];  // grad.add(param, alpha=weight_decay)
    T v = square_avg[i] * c.alpha;
    v = v + c.one_minus_alpha * g * g;  // square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    square_avg[i] = v;
    if constexpr (Centered) {
      T mean = grad_avg[i] * c.alpha;
      mean = mean + c.one_minus_alpha * g;  // grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
      grad_avg[i] = mean;
      v = v + T(-1) * mean * mean;  // square_avg.addcmul(grad_avg, grad_avg, value=-1)
    }
    // PyTorch: sqrt(v) + eps.  TensorFlow/Keras (eps_inside_sqrt): sqrt(v + eps).
    T denominator;
    if constexpr (EpsInsideSqrt) denominator = std::sqrt(v + c.eps);
    else denominator = std::sqrt(v) + c.eps;
    if constexpr (Momentum) {
      T buffer = momentum_buffer[i] * c.momentum;
      buffer = buffer + g / denominator;  // buf.mul_(momentum).addcdiv_(grad, avg)
      momentum_buffer[i] = buffer;
      param[i] = param[i] + c.negative_lr * buffer;  // param.add_(buf, alpha=-lr)
    } else {
      param[i] = param[i] + c.negative_lr * g / denominator;  // param.addcdiv_(grad, avg, value=-lr)
    }
  }
}

// Calls body(std::bool_constant<a>, std::bool_constant<b>, std::bool_constant<c>).
template <class Body>
void with_flags(bool a, bool b, bool c, Body&& body) {
  auto third = [&](auto first, auto second) {
    if (c) body(first, second, std::true_type{});
    else body(first, second, std::false_type{});
  };
  auto second = [&](auto first) {
    if (b) third(first, std::true_type{});
    else third(first, std::false_type{});
  };
  if (a) second(std::true_type{});
  else second(std::false_type{});
}

}  // namespace

template <class T>
void sgd_update(int64_t count, const SgdHyper& h, bool first_step, T* param, const T* grad, T* momentum_buffer) {
  PNEUMA_CHECK(count >= 0, "sgd_update: negative count %lld", static_cast<long long>(count));
  PNEUMA_CHECK(h.momentum == 0 || momentum_buffer != nullptr, "sgd_update: momentum %g needs a momentum buffer",
               h.momentum);
  PNEUMA_CHECK(!h.nesterov || (h.momentum > 0 && h.dampening == 0),
               "sgd_update: Nesterov momentum requires momentum > 0 and zero dampening");
  const SgdConstants<T> c{.weight_decay = static_cast<T>(h.weight_decay),
                          .momentum = static_cast<T>(h.momentum),
                          .one_minus_dampening = static_cast<T>(1 - h.dampening),
                          .negative_lr = static_cast<T>(-h.lr),
                          .use_weight_decay = h.weight_decay != 0,
                          .use_momentum = h.momentum != 0,
                          .nesterov = h.nesterov,
                          .first_step = first_step};
  parallel_for(count, kUpdateGrain, [&](int64_t begin, int64_t end) {
    sgd_chunk<T>(begin, end, c, param, grad, momentum_buffer);
  });
}

template <class T>
void adam_update(int64_t count, const AdamHyper& h, T* param, const T* grad, T* exp_avg, T* exp_avg_sq) {
  PNEUMA_CHECK(count >= 0, "adam_update: negative count %lld", static_cast<long long>(count));
  PNEUMA_CHECK(h.step >= 1, "adam_update: step must be >= 1 (1-based, after this update), got %lld",
               static_cast<long long>(h.step));
  const double step = static_cast<double>(h.step);
  const double bias_correction1 = 1 - std::pow(h.beta1, step);
  const double bias_correction2 = 1 - std::pow(h.beta2, step);
  const AdamConstants<T> c{.beta1 = static_cast<T>(h.beta1),
                           .one_minus_beta1 = static_cast<T>(1 - h.beta1),
                           .beta2 = static_cast<T>(h.beta2),
                           .one_minus_beta2 = static_cast<T>(1 - h.beta2),
                           .eps = static_cast<T>(h.eps),
                           .weight_decay = static_cast<T>(h.weight_decay),
                           .decoupled_decay_factor = static_cast<T>(1 - h.lr * h.weight_decay),
                           .negative_step_size = static_cast<T>(-(h.lr / bias_correction1)),
                           .bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2)),
                           .coupled_decay = !h.decoupled_weight_decay && h.weight_decay != 0,
                           .decoupled_decay = h.decoupled_weight_decay};
  parallel_for(count, kUpdateGrain, [&](int64_t begin, int64_t end) {
    adam_chunk<T>(begin, end, c, param, grad, exp_avg, exp_avg_sq);
  });
}

template <class T>
void rmsprop_update(int64_t count, const RmspropHyper& h, T* param, const T* grad, T* square_avg, T* momentum_buffer,
                    T* grad_avg) {
  PNEUMA_CHECK(count >= 0, "rmsprop_update: negative count %lld", static_cast<long long>(count));
  PNEUMA_CHECK(h.momentum == 0 || momentum_buffer != nullptr,
               "rmsprop_update: momentum %g needs a momentum buffer", h.momentum);
  PNEUMA_CHECK(!h.centered || grad_avg != nullptr, "rmsprop_update: centered RMSprop needs a grad_avg buffer");
  const RmspropConstants<T> c{.alpha = static_cast<T>(h.alpha),
                              .one_minus_alpha = static_cast<T>(1 - h.alpha),
                              .eps = static_cast<T>(h.eps),
                              .weight_decay = static_cast<T>(h.weight_decay),
                              .momentum = static_cast<T>(h.momentum),
                              .negative_lr = static_cast<T>(-h.lr),
                              .use_weight_decay = h.weight_decay != 0};
  with_flags(h.centered, h.momentum > 0, h.eps_inside_sqrt, [&](auto centered, auto momentum, auto eps_inside_sqrt) {
    parallel_for(count, kUpdateGrain, [&](int64_t begin, int64_t end) {
      rmsprop_chunk<T, decltype(centered)::value, decltype(momentum)::value, decltype(eps_inside_sqrt)::value>(
          begin, end, c, param, grad, square_avg, momentum_buffer, grad_avg);
    });
  });
}

#define PNEUMA_INSTANTIATE_OPTIM(T)                                                                   \
  template void sgd_update<T>(int64_t, const SgdHyper&, bool, T*, const T*, T*);                      \
  template void adam_update<T>(int64_t, const AdamHyper&, T*, const T*, T*, T*);                      \
  template void rmsprop_update<T>(int64_t, const RmspropHyper&, T*, const T*, T*, T*, T*);
PNEUMA_INSTANTIATE_OPTIM(float)
PNEUMA_INSTANTIATE_OPTIM(double)
#undef PNEUMA_INSTANTIATE_OPTIM

}  // namespace pneuma::kernels::cpu
