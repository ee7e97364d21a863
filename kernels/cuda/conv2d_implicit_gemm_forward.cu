// Host side of the implicit-GEMM forward convolution (gemm_implicit.cuh): GEMM extents, tile shape by output
// channels per group, TF32 or exact-fp32 math, launch. One grid z slice per group.
#include "kernels/cuda/conv2d_internal.h"
#include "kernels/cuda/gemm_implicit.cuh"
#include "kernels/gemm.h"

namespace pneuma::kernels::cuda::conv2d_detail {
namespace {

using implicit_gemm::ImplicitGemmParams;
using implicit_gemm::Pass;

template <class C, int width>
void run(const ImplicitGemmParams& p, int64_t groups, const float* input, const float* weight, const float* bias,
         float* output) {
  const dim3 grid(implicit_gemm::tile_count(p.gemm_m, C::bm), implicit_gemm::tile_count(p.gemm_n, C::bn),
                  static_cast<unsigned>(groups));
  if (matmul_precision() == MatmulPrecision::tf32)
    implicit_gemm::launch<Pass::forward, C, width, true>(p, grid, input, weight, bias, output);
  else
    implicit_gemm::launch<Pass::forward, C, width, false>(p, grid, input, weight, bias, output);
}

}  // namespace

void implicit_gemm_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias,
                           float* output) {
  PNEUMA_CHECK(s.groups <= 65535, "conv2d (CUDA): %lld groups exceed the grid limit 65535", (long long)s.groups);
  ImplicitGemmParams p = implicit_gemm::geometry_params(s);
  p.gemm_m = static_cast<int>(s.batch * s.out_height * s.out_width);
  p.gemm_n = p.out_group_channels;
  p.gemm_k = p.filter_size;
  using namespace implicit_gemm;
  if (packed_channels(s, {input, weight, bias, output})) {
    if (p.gemm_n > 64) return run<Tile128x128, 4>(p, s.groups, input, weight, bias, output);
    if (p.gemm_n > 32) return run<Tile128x64, 4>(p, s.groups, input, weight, bias, output);
    return run<Tile256x32, 4>(p, s.groups, input, weight, bias, output);
  }
  if (p.gemm_n > 32) return run<Tile128x64, 1>(p, s.groups, input, weight, bias, output);
  run<Tile256x32, 1>(p, s.groups, input, weight, bias, output);
}

}  // namespace pneuma::kernels::cuda::conv2d_detail
