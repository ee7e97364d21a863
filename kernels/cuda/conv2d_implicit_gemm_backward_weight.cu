// Host side of the implicit-GEMM weight gradient (gemm_implicit.cuh): grad_weight[co, (kh, kw, ci)] is a GEMM
// whose reduction runs over every output pixel of the batch. The pixels are cut into fixed chunks (sized from the
// shape only, so the summation order never changes), each block writes its chunk's partial tile, and
// reduce_partials adds the chunks in order: deterministic, no atomics.
#include <algorithm>

#include "kernels/cuda/conv2d_internal.h"
#include "kernels/cuda/gemm_implicit.cuh"
#include "kernels/gemm.h"

namespace pneuma::kernels::cuda::conv2d_detail {
namespace {

using implicit_gemm::ImplicitGemmParams;
using implicit_gemm::Pass;

constexpr int64_t kTargetBlocks = 512;  // about four blocks per SM on an H100
constexpr int64_t kMinimumChunkTiles = 4;

template <class C, int width>
void run(ImplicitGemmParams p, int64_t groups, const float* input, const float* grad_output, float* grad_weight) {
  const int64_t tiles = static_cast<int64_t>(implicit_gemm::tile_count(p.gemm_m, C::bm)) *
                        implicit_gemm::tile_count(p.gemm_n, C::bn) * groups;
  const int64_t pixels = p.gemm_k;
  const int64_t most_chunks = std::max<int64_t>(1, pixels / (kMinimumChunkTiles * C::bk));
  int64_t chunks = std::clamp<int64_t>((kTargetBlocks + tiles - 1) / tiles, 1, most_chunks);
  const int64_t chunk_pixels = ((pixels + chunks - 1) / chunks + C::bk - 1) / C::bk * C::bk;
  chunks = (pixels + chunk_pixels - 1) / chunk_pixels;
  PNEUMA_CHECK(groups * chunks <= 65535, "conv2d (CUDA): %lld groups exceed the grid limit", (long long)groups);
  p.chunk_pixels = static_cast<int>(chunk_pixels);
  p.chunks = static_cast<int>(chunks);
  const int64_t weight_count = static_cast<int64_t>(p.out_channels) * p.filter_size;
  float* destination = grad_weight;
  if (chunks > 1) {
    destination = static_cast<float*>(workspace(sizeof(float) * chunks * weight_count, kPartialsSlot));
    p.chunk_stride = weight_count;
  }
  const dim3 grid(implicit_gemm::tile_count(p.gemm_m, C::bm), implicit_gemm::tile_count(p.gemm_n, C::bn),
                  static_cast<unsigned>(groups * chunks));
  if (matmul_precision() == MatmulPrecision::tf32)
    implicit_gemm::launch<Pass::backward_weight, C, width, true>(p, grid, grad_output, input, nullptr, destination);
  else
    implicit_gemm::launch<Pass::backward_weight, C, width, false>(p, grid, grad_output, input, nullptr, destination);
  if (chunks > 1) reduce_partials(destination, chunks, weight_count, grad_weight);
}

}  // namespace

void implicit_gemm_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output,
                                   float* grad_weight) {
  ImplicitGemmParams p = implicit_gemm::geometry_params(s);
  p.gemm_m = p.out_group_channels;
  p.gemm_n = p.filter_size;
  p.gemm_k = static_cast<int>(s.batch * s.out_height * s.out_width);
  using namespace implicit_gemm;
  if (packed_channels(s, {input, grad_output, grad_weight})) {
    if (p.gemm_m >= 128 && p.gemm_n >= 128) return run<Tile128x128, 4>(p, s.groups, input, grad_output, grad_weight);
    return run<Tile64x64, 4>(p, s.groups, input, grad_output, grad_weight);
  }
  run<Tile64x64, 1>(p, s.groups, input, grad_output, grad_weight);
}

}  // namespace pneuma::kernels::cuda::conv2d_detail
