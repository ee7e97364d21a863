// Full reductions on CUDA: sum (result kept on the device, for the sum/mean ops), sum of squares and the
// finiteness check (results returned to the host, for gradient clipping and overflow checks). All deterministic
// two-level reductions (reduce.cuh) accumulated in double.
#include <cstring>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/elementwise.h"

namespace pneuma::kernels::cuda {

template <class T>
void sum(int64_t count, const T* input, double multiplier, T* output) {
  PNEUMA_CHECK(count >= 0, "sum (CUDA): negative count %lld", static_cast<long long>(count));
  reduce_all<double, 1>(
      count, [=] __device__(int64_t i, double(&local)[1]) { local[0] += static_cast<double>(input[i]); },
      [=] __device__(const Totals<double, 1>& totals) { output[0] = static_cast<T>(multiplier * totals.value[0]); });
}

template <class T>
double sum_of_squares(int64_t count, const T* input) {
  PNEUMA_CHECK(count >= 0, "sum_of_squares (CUDA): negative count %lld", static_cast<long long>(count));
  double* result = static_cast<double*>(workspace(sizeof(double), kTemporarySlot));
  reduce_all<double, 1>(
      count,
      [=] __device__(int64_t i, double(&local)[1]) {
        const double v = static_cast<double>(input[i]);
        local[0] += v * v;
      },
      [=] __device__(const Totals<double, 1>& totals) { result[0] = totals.value[0]; });
  double host = 0;
  CUDA_CHECK(cudaMemcpy(&host, result, sizeof host, cudaMemcpyDeviceToHost));
  return host;
}

bool all_finite(int64_t count, const float* input) {
  PNEUMA_CHECK(count >= 0, "all_finite (CUDA): negative count %lld", static_cast<long long>(count));
  double* result = static_cast<double*>(workspace(sizeof(double), kTemporarySlot));
  // Counts the non-finite elements (exponent bits all set), exactly representable in double.
  reduce_all<double, 1>(
      count,
      [=] __device__(int64_t i, double(&local)[1]) {
        local[0] += (__float_as_uint(input[i]) & 0x7f800000u) == 0x7f800000u ? 1.0 : 0.0;
      },
      [=] __device__(const Totals<double, 1>& totals) { result[0] = totals.value[0]; });
  double host = 0;
  CUDA_CHECK(cudaMemcpy(&host, result, sizeof host, cudaMemcpyDeviceToHost));
  return host == 0;
}

template void sum<float>(int64_t, const float*, double, float*);
template double sum_of_squares<float>(int64_t, const float*);

}  // namespace pneuma::kernels::cuda
