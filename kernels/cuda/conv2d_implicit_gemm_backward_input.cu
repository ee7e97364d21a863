// Host side of the implicit-GEMM input gradient (gemm_implicit.cuh). A stride-S convolution's input pixels split
// into S_h·S_w phases (ih mod S_h, iw mod S_w); within a phase the kernel taps that reach a pixel are the same for
// every pixel, an arithmetic progression, so each phase is a dense GEMM with no zero taps. One launch per phase
// (one for stride 1), grid z over groups. A phase no tap reaches (e.g. 1×1 stride 2) gets zeros.
#include <numeric>

#include "kernels/cuda/conv2d_internal.h"
#include "kernels/cuda/gemm_implicit.cuh"
#include "kernels/gemm.h"

namespace pneuma::kernels::cuda::conv2d_detail {
namespace {

using implicit_gemm::ImplicitGemmParams;
using implicit_gemm::Pass;

// Taps k in [0, kernel) with (phase + pad - k·dilation) divisible by stride: {first + step·a : a < count}.
struct TapProgression {
  int first = 0, step = 1, count = 0;
};
TapProgression phase_taps(int phase, int pad, int kernel, int stride, int dilation) {
  TapProgression taps;
  taps.step = stride / std::gcd(stride, dilation);
  for (int k = 0; k < kernel; ++k) {
    const int offset = phase + pad - k * dilation;
    if (((offset % stride) + stride) % stride == 0) {
      taps.first = k;
      taps.count = (kernel - 1 - k) / taps.step + 1;
      break;
    }
  }
  return taps;
}

template <class C, int width>
void run(const ImplicitGemmParams& p, int64_t groups, const float* grad_output, const float* weight,
         float* grad_input) {
  const dim3 grid(implicit_gemm::tile_count(p.gemm_m, C::bm), implicit_gemm::tile_count(p.gemm_n, C::bn),
                  static_cast<unsigned>(groups));
  if (matmul_precision() == MatmulPrecision::tf32)
    implicit_gemm::launch<Pass::backward_input, C, width, true>(p, grid, grad_output, weight, nullptr, grad_input);
  else
    implicit_gemm::launch<Pass::backward_input, C, width, false>(p, grid, grad_output, weight, nullptr, grad_input);
}

}  // namespace

void implicit_gemm_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight,
                                  float* grad_input) {
  PNEUMA_CHECK(s.groups <= 65535, "conv2d (CUDA): %lld groups exceed the grid limit 65535", (long long)s.groups);
  ImplicitGemmParams p = implicit_gemm::geometry_params(s);
  p.gemm_n = p.in_group_channels;
  const bool packed = implicit_gemm::packed_channels(s, {grad_output, weight, grad_input});
  for (int phase_row = 0; phase_row < p.stride_height && phase_row < p.in_height; ++phase_row) {
    for (int phase_column = 0; phase_column < p.stride_width && phase_column < p.in_width; ++phase_column) {
      p.phase_row = phase_row, p.phase_column = phase_column;
      p.phase_height = (p.in_height - phase_row + p.stride_height - 1) / p.stride_height;
      p.phase_width = (p.in_width - phase_column + p.stride_width - 1) / p.stride_width;
      const TapProgression rows = phase_taps(phase_row, p.pad_top, p.kernel_height, p.stride_height, p.dilation_height);
      const TapProgression columns =
          phase_taps(phase_column, p.pad_left, p.kernel_width, p.stride_width, p.dilation_width);
      p.tap_row_first = rows.first, p.tap_row_step = rows.step;
      p.tap_column_first = columns.first, p.tap_column_step = columns.step;
      p.gemm_m = p.batch * p.phase_height * p.phase_width;
      p.gemm_k = rows.count * columns.count * p.out_group_channels;
      p.phase_width_divmod = FastDivmod(p.phase_width);
      p.phase_height_divmod = FastDivmod(p.phase_height);
      p.tap_columns_divmod = FastDivmod(std::max(1, columns.count));
      using namespace implicit_gemm;
      if (packed) {
        if (p.gemm_n > 64)
          run<Tile128x128, 4>(p, s.groups, grad_output, weight, grad_input);
        else if (p.gemm_n > 32)
          run<Tile128x64, 4>(p, s.groups, grad_output, weight, grad_input);
        else
          run<Tile256x32, 4>(p, s.groups, grad_output, weight, grad_input);
      } else {
        if (p.gemm_n > 32)
          run<Tile128x64, 1>(p, s.groups, grad_output, weight, grad_input);
        else
          run<Tile256x32, 1>(p, s.groups, grad_output, weight, grad_input);
      }
    }
  }
}

}  // namespace pneuma::kernels::cuda::conv2d_detail
