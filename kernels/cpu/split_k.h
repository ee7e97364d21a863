// The last step of a GEMM split along k (used when C is small and k long, e.g. weight gradients): each fixed
// chunk of k wrote its partial product; they are summed here in chunk order, so the result depends only on the
// chunking, never on the thread count. `chunk_stride` is the distance between two chunks' partials and
// `element_at(i, j)` the offset of C's element (i, j) inside one chunk's partial.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {

template <class T, class ElementAt>
void sum_split_k_partials(int64_t m, int64_t n, int64_t chunks, int64_t chunk_stride, const T* partial,
                          ElementAt element_at, T alpha, T beta, T* c, int64_t ldc) {
  parallel_for(m, std::max<int64_t>(1, 4096 / n), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t i = row_begin; i < row_end; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t at = element_at(i, j);
        T sum = partial[at];
        for (int64_t index = 1; index < chunks; ++index) sum += partial[index * chunk_stride + at];
        T& target = c[i * ldc + j];
        target = beta == T(0) ? alpha * sum : alpha * sum + beta * target;
      }
  });
}

}  // namespace pneuma::kernels::cpu
