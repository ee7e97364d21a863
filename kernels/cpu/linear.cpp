// Fully connected layer on row-major matrices, all through gemm():
//   forward          output[rows, out]  = input[rows, in] · weight[out, in]ᵀ + bias
//   backward input   grad_input[rows, in] = grad_output[rows, out] · weight[out, in]
//   backward weight  grad_weight[out, in] = grad_output[rows, out]ᵀ · input[rows, in]
//   backward bias    grad_bias[out]       = Σ_rows grad_output[rows, out]
#include <algorithm>
#include <vector>

#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

void check_shape(const LinearShape& s) {
  PNEUMA_CHECK(s.rows >= 0 && s.in_features >= 1 && s.out_features >= 1,
               "linear: invalid shape rows=%lld in_features=%lld out_features=%lld", (long long)s.rows,
               (long long)s.in_features, (long long)s.out_features);
}

}  // namespace

template <class T>
void linear_forward(const LinearShape& s, const T* input, const T* weight, const T* bias, T* output) {
  check_shape(s);
  if (bias != nullptr)  // write the bias, then add the product onto it (beta = 1)
    parallel_for(s.rows, std::max<int64_t>(1, 16384 / s.out_features), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) std::copy(bias, bias + s.out_features, output + r * s.out_features);
    });
  gemm(false, true, s.rows, s.out_features, s.in_features, T(1), input, s.in_features, weight, s.in_features,
       bias != nullptr ? T(1) : T(0), output, s.out_features);
}

template <class T>
void linear_backward_input(const LinearShape& s, const T* grad_output, const T* weight, T* grad_input) {
  check_shape(s);
  gemm(false, false, s.rows, s.in_features, s.out_features, T(1), grad_output, s.out_features, weight, s.in_features,
       T(0), grad_input, s.in_features);
}

template <class T>
void linear_backward_weight(const LinearShape& s, const T* input, const T* grad_output, T* grad_weight) {
  check_shape(s);
  gemm(true, false, s.out_features, s.in_features, s.rows, T(1), grad_output, s.out_features, input, s.in_features,
       T(0), grad_weight, s.in_features);
}

// Rows are summed in fixed chunks whose partials are added in chunk order: the same result for any thread count.
template <class T>
void linear_backward_bias(const LinearShape& s, const T* grad_output, T* grad_bias) {
  check_shape(s);
  if (grad_bias == nullptr) return;
  const int64_t columns = s.out_features;
  if (s.rows == 0) {
    std::fill(grad_bias, grad_bias + columns, T(0));
    return;
  }
  const int64_t chunk = std::max<int64_t>(256, (s.rows + 63) / 64);
  const int64_t chunks = chunk_count(s.rows, chunk);
  std::vector<T> partials(chunks * columns);
  parallel_for_chunks(s.rows, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    T* sum = partials.data() + index * columns;
    std::copy(grad_output + begin * columns, grad_output + (begin + 1) * columns, sum);
    for (int64_t r = begin + 1; r < end; ++r)
      for (int64_t j = 0; j < columns; ++j) sum[j] += grad_output[r * columns + j];
  });
  std::copy(partials.begin(), partials.begin() + columns, grad_bias);
  for (int64_t index = 1; index < chunks; ++index)
    for (int64_t j = 0; j < columns; ++j) grad_bias[j] += partials[index * columns + j];
}

#define PNEUMA_INSTANTIATE_LINEAR(T)                                                      \
  template void linear_forward<T>(const LinearShape&, const T*, const T*, const T*, T*); \
  template void linear_backward_input<T>(const LinearShape&, const T*, const T*, T*);    \
  template void linear_backward_weight<T>(const LinearShape&, const T*, const T*, T*);   \
  template void linear_backward_bias<T>(const LinearShape&, const T*, T*);
PNEUMA_INSTANTIATE_LINEAR(float)
PNEUMA_INSTANTIATE_LINEAR(double)
#undef PNEUMA_INSTANTIATE_LINEAR

}  // namespace pneuma::kernels::cpu
