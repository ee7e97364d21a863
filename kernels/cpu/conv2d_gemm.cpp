// Convolution as GEMM, for everything that is not depthwise.
//
// Output pixels are rows, so an NHWC tensor is already a [pixels, channels] matrix:
//   forward          output[pixels, Cout_g]  = columns[pixels, K] · weight_g[Cout_g, K]ᵀ
//   backward input   columns[pixels, K]      = grad_output[pixels, Cout_g] · weight_g[Cout_g, K]    (then col2im)
//   backward weight  grad_weight_g[Cout_g, K] = grad_output[pixels, Cout_g]ᵀ · columns[pixels, K]
// with K = kernel_height · kernel_width · Cin_g and columns the im2col patch matrix, laid out [kh][kw][c] per row
// to match the weight layout [Cout, KH, KW, Cin/groups]. A 1×1 stride-1 unpadded convolution needs no columns:
// the input itself is the matrix (a group is a column slice, reached through the leading dimension). Otherwise
// the pixels are processed in blocks of whole output rows so the column buffer stays near 1 MiB.
//
// These products always use gemm_portable(), also in builds with OpenBLAS: convolution GEMMs are skinny (pixels ×
// a few dozen channels), where our GEMM reads operands in place; on the 2-core development machine it measured as
// fast as OpenBLAS to about 2× faster on these shapes, and it runs on the same OpenMP threads as every other
// kernel.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu::conv2d_detail {
namespace {

constexpr int64_t column_buffer_bytes = int64_t{1} << 20;

struct GemmGeometry {
  int64_t in_group_channels, out_group_channels;
  int64_t patch;             // K: one im2col row
  int64_t output_rows;       // batch · out_height; "row" below means one output image row of out_width pixels
  int64_t rows_per_block;    // output rows per im2col block
};

template <class T>
GemmGeometry geometry_of(const Conv2dShape& s) {
  GemmGeometry g;
  g.in_group_channels = s.in_channels / s.groups;
  g.out_group_channels = s.out_channels / s.groups;
  g.patch = s.kernel_height * s.kernel_width * g.in_group_channels;
  g.output_rows = s.batch * s.out_height;
  const int64_t row_bytes = s.out_width * g.patch * static_cast<int64_t>(sizeof(T));
  g.rows_per_block = std::clamp<int64_t>(column_buffer_bytes / row_bytes, 1, g.output_rows);
  return g;
}

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_height == 1 && s.kernel_width == 1 && s.stride_height == 1 && s.stride_width == 1 &&
         s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
}

template <class T>
std::vector<T>& column_buffer() {
  thread_local std::vector<T> buffer;
  return buffer;
}

// Copies (or zeroes, source == nullptr) `count` values with fixed-size vector moves, widest first, and at most
// three single values: the runs here are short (3 channels × 3 taps for an RGB stem) and the memmove / memset
// call GCC would turn a plain loop into costs more than the copy.
template <class T, int bytes = widest_simd_bytes>
inline void move_values(const T* __restrict source, int64_t count, T* __restrict target) {
  using V = Vector<T, bytes>;
  constexpr int64_t lanes = lanes_of<T, bytes>;
  int64_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    store(target + i, source ? load<V>(source + i) : V{});
    asm("" : "+r"(i));  // hides the loop's shape from GCC, which would turn it back into a memmove call
  }
  if constexpr (bytes > 16) {
    move_values<T, bytes / 2>(source ? source + i : nullptr, count - i, target + i);
  } else {
    for (int r = 0; r < 3; ++r, ++i)
      if (i < count) target[i] = source ? source[i] : T(0);
  }
}
template <class T>
inline void copy_values(const T* source, int64_t count, T* target) {
  move_values(source, count, target);
}
template <class T>
inline void zero_values(int64_t count, T* target) {
  move_values(static_cast<const T*>(nullptr), count, target);
}

// columns[(row - row_begin)·out_width + ow][kh][kw][c] = input[n, ih, iw, group·Cin_g + c], zero in the padding.
// Threads split the pixels; each works through its range one output-row segment at a time, kernel row by kernel
// row, so the row arithmetic is done once per segment and the inner loop is a run of short copies.
template <class T>
void im2col(const Conv2dShape& s, const GemmGeometry& g, const T* input, int64_t group, int64_t row_begin,
            int64_t row_end, T* columns) {
  const int64_t channels = g.in_group_channels;
  const int64_t tap_width = s.kernel_width * channels;
  // With dilation 1 and one group, the KW taps of a kernel row are one contiguous run of the input row.
  const bool contiguous_taps = s.dilation_width == 1 && channels == s.in_channels;
  const int64_t pixel_step = s.stride_width * s.in_channels;
  // Output columns [inside_begin, inside_end) have every kernel tap inside the image horizontally.
  int64_t inside_begin, inside_end;
  {
    int64_t kw_begin, kw_end;
    inside_begin = s.out_width, inside_end = 0;
    for (int64_t ow = 0; ow < s.out_width; ++ow) {
      valid_taps(ow * s.stride_width - s.pad_left, s.dilation_width, s.kernel_width, s.in_width, &kw_begin, &kw_end);
      if (kw_begin == 0 && kw_end == s.kernel_width) inside_begin = std::min(inside_begin, ow), inside_end = ow + 1;
    }
    if (inside_begin >= inside_end) inside_begin = inside_end = 0;
  }
  parallel_for((row_end - row_begin) * s.out_width, std::max<int64_t>(1, 4096 / g.patch),
               [&](int64_t pixel_begin, int64_t pixel_end) {
                 for (int64_t pixel = pixel_begin; pixel < pixel_end;) {
                   const int64_t row = row_begin + pixel / s.out_width;
                   const int64_t n = row / s.out_height, oh = row % s.out_height;
                   const int64_t ow_begin = pixel % s.out_width;
                   const int64_t ow_end = std::min(s.out_width, ow_begin + (pixel_end - pixel));
                   T* segment = columns + pixel * g.patch;
                   for (int64_t kh = 0; kh < s.kernel_height; ++kh) {
                     const int64_t ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
                     T* out = segment + kh * tap_width;
                     if (ih < 0 || ih >= s.in_height) {
                       for (int64_t ow = ow_begin; ow < ow_end; ++ow, out += g.patch) zero_values(tap_width, out);
                       continue;
                     }
                     const T* input_row = input + ((n * s.in_height + ih) * s.in_width) * s.in_channels +
                                          group * channels;
                     for (int64_t ow = ow_begin; ow < ow_end;) {
                       if (contiguous_taps && ow >= inside_begin && ow < inside_end) {
                         // the common case: each pixel's kernel row is one contiguous run of the input row
                         const int64_t run_end = std::min(ow_end, inside_end);
                         const T* source = input_row + (ow * s.stride_width - s.pad_left) * s.in_channels;
                         for (; ow < run_end; ++ow, out += g.patch, source += pixel_step)
                           copy_values(source, tap_width, out);
                         continue;
                       }
                       for (int64_t kw = 0; kw < s.kernel_width; ++kw) {
                         const int64_t iw = ow * s.stride_width - s.pad_left + kw * s.dilation_width;
                         T* tap = out + kw * channels;
                         if (iw < 0 || iw >= s.in_width)
                           zero_values(channels, tap);
                         else
                           copy_values(input_row + iw * s.in_channels, channels, tap);
                       }
                       ++ow, out += g.patch;
                     }
                   }
                   pixel += ow_end - ow_begin;
                 }
               });
}

// grad_input[n, ih, iw, group·Cin_g + c] += every columns entry that im2col would have read from that pixel, for
// the output rows [row_begin, row_end). Written as a gather: each input row is owned by one thread and its sum
// runs in a fixed (kh, kw) order, so the result is deterministic. `columns_of` lists, for each input column iw,
// the (kw, ow) pairs that read it.
template <class T>
void col2im_accumulate(const Conv2dShape& s, const GemmGeometry& g, const TapTable& columns_of, const T* columns,
                       int64_t group, int64_t row_begin, int64_t row_end, T* grad_input) {
  const int64_t channels = g.in_group_channels;
  std::vector<int64_t> input_rows;  // n · in_height + ih for every input row this block touches
  for (int64_t n = row_begin / s.out_height; n <= (row_end - 1) / s.out_height; ++n) {
    const int64_t oh_begin = std::max<int64_t>(row_begin - n * s.out_height, 0);
    const int64_t oh_end = std::min<int64_t>(row_end - n * s.out_height, s.out_height);
    const int64_t ih_begin = std::max<int64_t>(oh_begin * s.stride_height - s.pad_top, 0);
    const int64_t ih_end = std::min<int64_t>(
        (oh_end - 1) * s.stride_height - s.pad_top + (s.kernel_height - 1) * s.dilation_height + 1, s.in_height);
    for (int64_t ih = ih_begin; ih < ih_end; ++ih) input_rows.push_back(n * s.in_height + ih);
  }
  const int64_t work_per_row = s.in_width * s.kernel_height * s.kernel_width * channels;
  parallel_for(static_cast<int64_t>(input_rows.size()), std::max<int64_t>(1, 8192 / work_per_row),
               [&](int64_t task_begin, int64_t task_end) {
                 for (int64_t task = task_begin; task < task_end; ++task) {
                   const int64_t n = input_rows[task] / s.in_height, ih = input_rows[task] % s.in_height;
                   T* grad_row = grad_input + (input_rows[task] * s.in_width) * s.in_channels + group * channels;
                   for (int64_t kh = 0; kh < s.kernel_height; ++kh) {
                     const int64_t t = ih + s.pad_top - kh * s.dilation_height;
                     if (t < 0 || t % s.stride_height != 0) continue;
                     const int64_t row = n * s.out_height + t / s.stride_height;
                     if (t / s.stride_height >= s.out_height || row < row_begin || row >= row_end) continue;
                     const T* column_row = columns + (row - row_begin) * s.out_width * g.patch +
                                           kh * s.kernel_width * channels;
                     for (int64_t iw = 0; iw < s.in_width; ++iw) {
                       T* out = grad_row + iw * s.in_channels;
                       const auto* taps = columns_of.entries.data() + iw * columns_of.max_taps;
                       for (int64_t tap = 0; tap < columns_of.count[iw]; ++tap) {
                         const auto [kw, ow] = taps[tap];
                         const T* source = column_row + ow * g.patch + kw * channels;
                         for (int64_t c = 0; c < channels; ++c) out[c] += source[c];
                       }
                     }
                   }
                 }
               });
}

template <class T>
void fill_bias(const T* bias, int64_t pixels, int64_t channels, T* output) {
  parallel_for(pixels, std::max<int64_t>(1, 16384 / channels), [&](int64_t begin, int64_t end) {
    for (int64_t pixel = begin; pixel < end; ++pixel) std::copy(bias, bias + channels, output + pixel * channels);
  });
}

}  // namespace

template <class T>
void gemm_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output) {
  const GemmGeometry g = geometry_of<T>(s);
  const T beta = bias != nullptr ? T(1) : T(0);  // the bias is written first and the product added to it
  if (is_pointwise(s)) {
    const int64_t pixels = s.batch * s.out_height * s.out_width;
    if (bias != nullptr) fill_bias(bias, pixels, s.out_channels, output);
    for (int64_t group = 0; group < s.groups; ++group)
      gemm_portable(false, true, pixels, g.out_group_channels, g.in_group_channels, T(1), input + group * g.in_group_channels,
           s.in_channels, weight + group * g.out_group_channels * g.patch, g.patch, beta,
           output + group * g.out_group_channels, s.out_channels);
    return;
  }
  std::vector<T>& columns = column_buffer<T>();
  columns.resize(std::max<size_t>(columns.size(), g.rows_per_block * s.out_width * g.patch));
  for (int64_t row_begin = 0; row_begin < g.output_rows; row_begin += g.rows_per_block) {
    const int64_t row_end = std::min(row_begin + g.rows_per_block, g.output_rows);
    const int64_t pixels = (row_end - row_begin) * s.out_width;
    T* output_block = output + row_begin * s.out_width * s.out_channels;
    if (bias != nullptr) fill_bias(bias, pixels, s.out_channels, output_block);
    for (int64_t group = 0; group < s.groups; ++group) {
      im2col(s, g, input, group, row_begin, row_end, columns.data());
      gemm_portable(false, true, pixels, g.out_group_channels, g.patch, T(1), columns.data(), g.patch,
           weight + group * g.out_group_channels * g.patch, g.patch, beta, output_block + group * g.out_group_channels,
           s.out_channels);
    }
  }
}

template <class T>
void gemm_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input) {
  const GemmGeometry g = geometry_of<T>(s);
  if (is_pointwise(s)) {
    const int64_t pixels = s.batch * s.out_height * s.out_width;
    for (int64_t group = 0; group < s.groups; ++group)
      gemm_portable(false, false, pixels, g.in_group_channels, g.out_group_channels, T(1),
           grad_output + group * g.out_group_channels, s.out_channels,
           weight + group * g.out_group_channels * g.patch, g.patch, T(0), grad_input + group * g.in_group_channels,
           s.in_channels);
    return;
  }
  const TapTable columns_of =
      tap_table(s.in_width, s.out_width, s.kernel_width, s.stride_width, s.pad_left, s.dilation_width);
  const int64_t input_size = s.batch * s.in_height * s.in_width * s.in_channels;
  parallel_for(input_size, 65536, [&](int64_t begin, int64_t end) { std::fill(grad_input + begin, grad_input + end, T(0)); });
  std::vector<T>& columns = column_buffer<T>();
  columns.resize(std::max<size_t>(columns.size(), g.rows_per_block * s.out_width * g.patch));
  for (int64_t row_begin = 0; row_begin < g.output_rows; row_begin += g.rows_per_block) {
    const int64_t row_end = std::min(row_begin + g.rows_per_block, g.output_rows);
    const int64_t pixels = (row_end - row_begin) * s.out_width;
    for (int64_t group = 0; group < s.groups; ++group) {
      gemm_portable(false, false, pixels, g.patch, g.out_group_channels, T(1),
           grad_output + row_begin * s.out_width * s.out_channels + group * g.out_group_channels, s.out_channels,
           weight + group * g.out_group_channels * g.patch, g.patch, T(0), columns.data(), g.patch);
      col2im_accumulate(s, g, columns_of, columns.data(), group, row_begin, row_end, grad_input);
    }
  }
}

template <class T>
void gemm_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight) {
  const GemmGeometry g = geometry_of<T>(s);
  if (is_pointwise(s)) {
    const int64_t pixels = s.batch * s.out_height * s.out_width;
    for (int64_t group = 0; group < s.groups; ++group)
      gemm_portable(true, false, g.out_group_channels, g.in_group_channels, pixels, T(1),
           grad_output + group * g.out_group_channels, s.out_channels, input + group * g.in_group_channels,
           s.in_channels, T(0), grad_weight + group * g.out_group_channels * g.patch, g.patch);
    return;
  }
  std::vector<T>& columns = column_buffer<T>();
  columns.resize(std::max<size_t>(columns.size(), g.rows_per_block * s.out_width * g.patch));
  for (int64_t row_begin = 0; row_begin < g.output_rows; row_begin += g.rows_per_block) {
    const int64_t row_end = std::min(row_begin + g.rows_per_block, g.output_rows);
    const int64_t pixels = (row_end - row_begin) * s.out_width;
    const T beta = row_begin == 0 ? T(0) : T(1);  // blocks after the first accumulate
    for (int64_t group = 0; group < s.groups; ++group) {
      im2col(s, g, input, group, row_begin, row_end, columns.data());
      gemm_portable(true, false, g.out_group_channels, g.patch, pixels, T(1),
           grad_output + row_begin * s.out_width * s.out_channels + group * g.out_group_channels, s.out_channels,
           columns.data(), g.patch, beta, grad_weight + group * g.out_group_channels * g.patch, g.patch);
    }
  }
}

#define PNEUMA_INSTANTIATE_CONV2D_GEMM(T)                                                             \
  template void gemm_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);              \
  template void gemm_backward_input<T>(const Conv2dShape&, const T*, const T*, T*);                 \
  template void gemm_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
PNEUMA_INSTANTIATE_CONV2D_GEMM(float)
PNEUMA_INSTANTIATE_CONV2D_GEMM(double)
#undef PNEUMA_INSTANTIATE_CONV2D_GEMM

}  // namespace pneuma::kernels::cpu::conv2d_detail
