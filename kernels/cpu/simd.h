// The SIMD vocabulary of the CPU kernels: Vector<T, bytes> is a GCC vector-extension type (bytes = 0 gives plain
// T), so one kernel template compiles to AVX-512, AVX2, SSE or scalar code without intrinsics; lanes_of<T, bytes>
// is its element count; load/store move a vector through unaligned memory.
#pragma once
#include <cstring>

namespace pneuma::kernels::cpu {

#if defined(__AVX512F__)
constexpr int widest_simd_bytes = 64;
#elif defined(__AVX__)
constexpr int widest_simd_bytes = 32;
#else
constexpr int widest_simd_bytes = 16;
#endif

template <class T, int bytes>
struct VectorOf {
  typedef T type __attribute__((vector_size(bytes)));
};
template <class T>
struct VectorOf<T, 0> {
  typedef T type;
};
template <class T, int bytes = widest_simd_bytes>
using Vector = typename VectorOf<T, bytes>::type;

template <class T, int bytes = widest_simd_bytes>
constexpr int lanes_of = bytes == 0 ? 1 : bytes / static_cast<int>(sizeof(T));

template <class V>
inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store(void* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

}  // namespace pneuma::kernels::cpu
