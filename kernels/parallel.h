// CPU threading for kernels. Two primitives:
//  - parallel_for(count, grain, body(begin, end)): split [0, count) over the threads. For work whose result does
//    not depend on how it is split (each output element written by exactly one chunk).
//  - parallel_for_chunks(count, chunk, body(chunk_index, begin, end)): chunk boundaries depend only on `count` and
//    `chunk`, never on the thread count. Reductions write one partial per chunk and combine them in chunk order, so
//    results are bit-identical for any number of threads.
// Calls made from inside a parallel region run serially (no nested oversubscription).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace pneuma::kernels {

inline int max_threads() { return omp_get_max_threads(); }
inline void set_max_threads(int threads) { omp_set_num_threads(threads < 1 ? 1 : threads); }
inline bool in_parallel_region() { return omp_in_parallel() != 0; }

template <class Body>
void parallel_for(int64_t count, int64_t grain, Body&& body) {
  if (count <= 0) return;
  if (grain < 1) grain = 1;
  const int threads = max_threads();
  const int64_t max_chunks = (count + grain - 1) / grain;
  const int64_t chunks = std::min<int64_t>(threads, max_chunks);
  if (chunks <= 1 || in_parallel_region()) {
    body(int64_t{0}, count);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(chunks))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = count * c / chunks;
    const int64_t end = count * (c + 1) / chunks;
    if (begin < end) body(begin, end);
  }
}

inline int64_t chunk_count(int64_t count, int64_t chunk) { return count <= 0 ? 0 : (count + chunk - 1) / chunk; }

template <class Body>
void parallel_for_chunks(int64_t count, int64_t chunk, Body&& body) {
  const int64_t chunks = chunk_count(count, chunk);
  if (chunks <= 0) return;
  if (chunks == 1 || max_threads() == 1 || in_parallel_region()) {
    for (int64_t c = 0; c < chunks; ++c) body(c, c * chunk, std::min(count, (c + 1) * chunk));
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) body(c, c * chunk, std::min(count, (c + 1) * chunk));
}

}  // namespace pneuma::kernels
