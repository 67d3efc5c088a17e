// Float (fp32) layer operations on raw pointers: output geometry, padding, the thread split,
// and calls into a kernel table's FloatKernels (fastq/float_kernels.hpp has the exact
// contract). Baseline code; no Python here. Threads split output pixels, images and channel
// blocks, never one output's reduction, so results do not depend on the thread count or on the
// batch an image is in.
#pragma once
#include <cstddef>
#include <vector>

#include "fastq/kernel_table.hpp"

namespace fastq {
enum class Padding { valid, same };

// A window's shape: kh x kw taps, strides, dilations, padding.
struct Window {
  std::size_t kh, kw, sh, sw, dh, dw;
  Padding padding;
};

// Output size and padding before (top / left) of one spatial dimension: valid: out =
// floor((in - span) / s) + 1 (0 when in < span, span = (k - 1) * d + 1); same: out =
// ceil(in / s), total padding max((out - 1) * s + span - in, 0), floor(total / 2) before
// (TensorFlow's rule). dil (if not null): the dilation the kernels use, smaller than d for a
// huge "same" dilation, with the same taps read (runtime/window_axis.hpp).
void window_dim(std::size_t in, std::size_t k, std::size_t s, std::size_t d, Padding p, std::size_t* out,
                std::size_t* before, std::size_t* dil = nullptr);

// The ConvGeom of a window over n x h x w x c input with o output channels.
ConvGeom conv_geom(std::size_t h, std::size_t w, std::size_t c, std::size_t o, const Window& win);

// The table a layer with `channels` (output) channels runs on: t, or on x86 the AVX2 table when
// t is AVX-512 and the channels are a multiple of 8 but not of 16 (below 64): 8-lane vectors
// fit them, 16-lane ones would run half empty (QuickNetSmall's 8-channel depthwise). Every table
// computes the same bits (fastq/float_kernels.hpp), so this changes the speed only.
const KernelTable& fit_table(const KernelTable& t, std::size_t channels);
// The table a convolution with o outputs, c inputs and window `win` runs on: t when t is
// AVX-512 and the convolution fits two pixels per vector (conv_pairs_fit: QuickNetSmall's stem),
// else fit_table(t, o).
const KernelTable& fit_conv_table(const KernelTable& t, std::size_t o, std::size_t c, const Window& win);

// Packed weights of a convolution with taps = kh * kw * c and o output channels (floats).
std::size_t conv_packed_size(const KernelTable& t, std::size_t taps, std::size_t o);
// HWIO weights (taps x o) -> t's packed layout (conv_packed_size floats).
void conv_pack(const KernelTable& t, const float* w, std::size_t taps, std::size_t o, float* out);

// y (n x oh x ow x o) = epilogue(conv(x, w)). packed from conv_pack; e.scale / e.bias (if set)
// must hold round_up(o, t.fl.lanes) floats (the kernels read whole vectors).
void conv2d(const KernelTable& t, const float* x, std::size_t n, const ConvGeom& g, const float* packed,
            const FloatEpilogue& e, float* y);
// Depthwise, multiplier 1: w is kh x kw x c (g.o == g.c).
void depthwise2d(const KernelTable& t, const float* x, std::size_t n, const ConvGeom& g, const float* w,
                 const FloatEpilogue& e, float* y);
// relu: y = relu(max(x)) (float_kernels.hpp).
void max_pool2d(const KernelTable& t, const float* x, std::size_t n, const ConvGeom& g, bool relu, float* y);
void avg_pool2d(const KernelTable& t, const float* x, std::size_t n, const ConvGeom& g, float* y);
void global_avg_pool(const KernelTable& t, const float* x, std::size_t n, std::size_t pixels, std::size_t c, float* y);
void add(const KernelTable& t, const float* a, const float* b, float* y, std::size_t count, bool relu);
// y = ((x * scale) + bias) + res per last-axis channel (each optional), then relu if asked.
void affine(const KernelTable& t, const float* x, const float* scale, const float* bias, const float* res, bool relu,
            float* y, std::size_t rows, std::size_t c);
void softmax(const KernelTable& t, const float* x, float* y, std::size_t rows, std::size_t n);

// The fp32 FMA peak of one core with t's conv inner step, FLOP/s (2 per FMA lane), timed on the
// calling thread for about `seconds` (best of 3 runs), like popcount_peak.
double fma_peak(const KernelTable& t, double seconds);
}  // namespace fastq
