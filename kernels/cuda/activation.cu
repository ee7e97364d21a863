// Pointwise activations on CUDA, forward and backward side by side, with the CPU reference's formulas and its
// derivative conventions at the kinks (kernels/cpu/activation.cpp). One grid-stride kernel per activation, the
// activation a template parameter so each inner loop is branch-free.
#include <type_traits>

#include "kernels/activation.h"
#include "kernels/cuda/launch.h"

namespace pneuma::kernels::cuda {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInverseSqrtTwoPi = 0.39894228040143267794f;
constexpr float kGeluTanhBeta = 0.79788456080286535588f;
constexpr float kGeluTanhKappa = 0.044715f;

__device__ __forceinline__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float clamp_0_6(float x) { return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }

template <Activation A>
__device__ __forceinline__ float forward_value(float x) {
  if constexpr (A == Activation::identity) return x;
  if constexpr (A == Activation::relu) return x < 0.0f ? 0.0f : x;  // NaN propagates
  if constexpr (A == Activation::relu6) return clamp_0_6(x);
  if constexpr (A == Activation::sigmoid) return sigmoid_of(x);
  if constexpr (A == Activation::silu) return x / (1.0f + expf(-x));
  if constexpr (A == Activation::hard_sigmoid) return clamp_0_6(x + 3.0f) / 6.0f;
  if constexpr (A == Activation::hard_swish) return x * clamp_0_6(x + 3.0f) / 6.0f;
  if constexpr (A == Activation::gelu) return x * 0.5f * (1.0f + erff(x * kSqrtHalf));
  if constexpr (A == Activation::gelu_tanh) {
    const float inner = kGeluTanhBeta * (x + kGeluTanhKappa * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  }
  if constexpr (A == Activation::tanh) return tanhf(x);
  return x;
}

template <Activation A>
__device__ __forceinline__ float backward_value(float x, float g) {
  if constexpr (A == Activation::identity) return g;
  if constexpr (A == Activation::relu) return x > 0.0f ? g : 0.0f;
  if constexpr (A == Activation::relu6) return (x <= 0.0f || x >= 6.0f) ? 0.0f : g;
  if constexpr (A == Activation::sigmoid) {
    const float y = sigmoid_of(x);
    return g * (1.0f - y) * y;
  }
  if constexpr (A == Activation::silu) {
    const float s = sigmoid_of(x);
    return g * s * (1.0f + x * (1.0f - s));
  }
  if constexpr (A == Activation::hard_sigmoid) return (x > -3.0f && x < 3.0f) ? g / 6.0f : 0.0f;
  if constexpr (A == Activation::hard_swish) {
    if (x < -3.0f) return 0.0f;
    if (x <= 3.0f) return g * (x / 3.0f + 0.5f);
    return g;
  }
  if constexpr (A == Activation::gelu) {
    const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
    const float pdf = kInverseSqrtTwoPi * expf(-0.5f * x * x);
    return g * (cdf + x * pdf);
  }
  if constexpr (A == Activation::gelu_tanh) {
    const float x_squared = x * x;
    const float tanh_inner = tanhf(kGeluTanhBeta * (x + kGeluTanhKappa * x_squared * x));
    const float left = 0.5f * (1.0f + tanh_inner);
    const float right =
        0.5f * x * (1.0f - tanh_inner * tanh_inner) * kGeluTanhBeta * (1.0f + 3.0f * kGeluTanhKappa * x_squared);
    return g * (left + right);
  }
  if constexpr (A == Activation::tanh) {
    const float y = tanhf(x);
    return g * (1.0f - y * y);
  }
  return g;
}

// T is the storage type; the arithmetic is float (so a bf16 instantiation computes in float too).
template <Activation A, class T>
__global__ void activation_forward_kernel(int64_t count, const T* input, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count())
    output[i] = static_cast<T>(forward_value<A>(static_cast<float>(input[i])));
}

template <Activation A, class T>
__global__ void activation_backward_kernel(int64_t count, const T* input, const T* grad_output, T* grad_input) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count())
    grad_input[i] = static_cast<T>(
        backward_value<A>(static_cast<float>(input[i]), static_cast<float>(grad_output[i])));
}

// Calls body(std::integral_constant<Activation, a>) so each activation gets its own kernel.
template <class Body>
void with_activation(Activation a, Body&& body) {
  switch (a) {
    case Activation::identity: return body(std::integral_constant<Activation, Activation::identity>{});
    case Activation::relu: return body(std::integral_constant<Activation, Activation::relu>{});
    case Activation::relu6: return body(std::integral_constant<Activation, Activation::relu6>{});
    case Activation::sigmoid: return body(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::silu: return body(std::integral_constant<Activation, Activation::silu>{});
    case Activation::hard_sigmoid: return body(std::integral_constant<Activation, Activation::hard_sigmoid>{});
    case Activation::hard_swish: return body(std::integral_constant<Activation, Activation::hard_swish>{});
    case Activation::gelu: return body(std::integral_constant<Activation, Activation::gelu>{});
    case Activation::gelu_tanh: return body(std::integral_constant<Activation, Activation::gelu_tanh>{});
    case Activation::tanh: return body(std::integral_constant<Activation, Activation::tanh>{});
  }
  PNEUMA_FAIL("activation (CUDA): unknown activation %d", static_cast<int>(a));
}

}  // namespace

template <class T>
void activation_forward(Activation a, int64_t count, const T* input, T* output) {
  PNEUMA_CHECK(count >= 0, "activation_forward (CUDA): negative count %lld", static_cast<long long>(count));
  if (count == 0) return;
  with_activation(a, [&](auto kind) {
    PNEUMA_LAUNCH((activation_forward_kernel<decltype(kind)::value, T>), grid_for(count), kThreads, 0, count, input,
                  output);
  });
}

template <class T>
void activation_backward(Activation a, int64_t count, const T* input, const T* grad_output, T* grad_input) {
  PNEUMA_CHECK(count >= 0, "activation_backward (CUDA): negative count %lld", static_cast<long long>(count));
  if (count == 0) return;
  with_activation(a, [&](auto kind) {
    PNEUMA_LAUNCH((activation_backward_kernel<decltype(kind)::value, T>), grid_for(count), kThreads, 0, count, input,
                  grad_output, grad_input);
  });
}

template void activation_forward<float>(Activation, int64_t, const float*, float*);
template void activation_backward<float>(Activation, int64_t, const float*, const float*, float*);

}  // namespace pneuma::kernels::cuda
