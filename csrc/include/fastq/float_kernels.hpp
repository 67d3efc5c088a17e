// Float (fp32) layer kernels of one ISA: convolution, depthwise convolution, pooling, pointwise
// ops, softmax and the FMA peak probe (csrc/kernels/fconv.hpp, csrc/kernels/fpool.hpp).
// Baseline header: plain function pointers, filled by each csrc/targets/<isa>.cpp.
//
// Determinism: every output is computed by one fixed sequence of operations, whatever the ISA,
// the tile it falls in or the thread that runs it. Reductions are never split across lanes or
// threads: lanes hold different output channels, and each output accumulates its taps in the
// order (kh, kw, c) with fused multiply-adds (a single rounding each, as std::fma). So every
// table gives the scalar table's bits.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastq {

// Per output channel epilogue of a convolution: y = acc; y = y * scale[o] (if scale);
// y = y + bias[o] (if bias); y = y < 0 ? 0 : y (if relu). Each operation rounds on its own
// (no FMA here), so folding batch norm into (scale, bias) or into the weights is the caller's
// choice and both are exact contracts.
struct FloatEpilogue {
  const float* scale;  // null: no multiply
  const float* bias;   // null: no add
  bool relu;
};

// One NHWC convolution-like window. Input h x w x c per image, output oh x ow x o per image
// (depthwise / pooling: o = c). Window kh x kw taps, strides sh, sw, dilations dh, dw; pt, pl
// are the top / left padding (TensorFlow's SAME puts the smaller half there). Padding taps are
// skipped: they contribute nothing (not 0 * w).
struct ConvGeom {
  std::size_t h, w, c;
  std::size_t kh, kw, o;
  std::size_t sh, sw, dh, dw;
  std::size_t pt, pl;
  std::size_t oh, ow;
};

// Whether a convolution runs two output pixels per vector on a table that can (AVX-512: at
// most lanes / 2 output channels, and one kernel row's input of two neighbouring pixels, dilation
// 1, within one vector: (sw + kw) * c <= lanes). kernels/fconv.hpp takes that path when this
// holds; runtime/float_ops.cpp keeps such a convolution on the AVX-512 table.
inline bool conv_pairs_fit(std::size_t lanes, std::size_t o, std::size_t c, std::size_t kw, std::size_t sw,
                           std::size_t dw) {
  return o <= lanes / 2 && (dw == 1 || kw == 1) && c <= lanes && kw <= lanes && sw <= lanes && (sw + kw) * c <= lanes;
}

struct FloatKernels {
  // Vector lanes of float32, and output channels per packed weight block (conv_pack's layout:
  // blocks of `block` output channels, the last one rounded up to whole vectors; the block
  // starting at channel ch0 sits at ch0 * taps and holds [tap][channel], tap = (i * kw + j) * c
  // + ci for kernel row i, column j, input channel ci; missing channels are zero).
  std::size_t lanes, block;
  // HWIO weights (taps x o) -> the blocked layout (taps * round_up(o, lanes) floats).
  void (*conv_pack)(const float* w, std::size_t taps, std::size_t o, float* out);
  // Convolution of images x (n x h x w x c) with packed weights: output rows r in [r0, r1)
  // (r = image * oh + oy), columns [c0, c1) and channel blocks [b0, b1) of y (n x oh x ow x o).
  void (*conv)(const float* x, const float* packed, const ConvGeom& g, const FloatEpilogue& e, float* y, std::size_t r0,
               std::size_t r1, std::size_t c0, std::size_t c1, std::size_t b0, std::size_t b1);
  // Depthwise convolution (multiplier 1; weights kh x kw x c), max pool, average pool (sum of
  // the valid taps / their count): output rows [r0, r1), columns [c0, c1), every channel.
  void (*depthwise)(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y, std::size_t r0,
                    std::size_t r1, std::size_t c0, std::size_t c1);
  // max_pool with relu: y = relu(max(x)) (fused for relu -> max-pool: equal to max(relu(x))
  // except possibly the sign of a zero, and -inf -> 0 for an all-NaN window).
  void (*max_pool)(const float* x, const ConvGeom& g, bool relu, float* y, std::size_t r0, std::size_t r1,
                   std::size_t c0, std::size_t c1);
  void (*avg_pool)(const float* x, const ConvGeom& g, float* y, std::size_t r0, std::size_t r1, std::size_t c0,
                   std::size_t c1);
  // y[i, c] = (sum over p < pixels of x[i, p, c], in p order, from +0) / pixels, images [i0, i1).
  void (*global_avg_pool)(const float* x, std::size_t pixels, std::size_t c, float* y, std::size_t i0, std::size_t i1);
  // y = a + b (then relu), n elements.
  void (*add)(const float* a, const float* b, float* y, std::size_t n, bool relu);
  // y[r, c] = ((x[r, c] * scale[c]) + bias[c]) + res[r, c] (each optional, each rounded), then
  // relu if asked: batch norm, optionally fused with the residual add that follows it.
  void (*affine)(const float* x, const float* scale, const float* bias, const float* res, bool relu, float* y,
                 std::size_t rows, std::size_t c);
  // Row-wise softmax of rows x n: see kernels/fpool.hpp for the exact method.
  void (*softmax)(const float* x, float* y, std::size_t rows, std::size_t n);
  // The fp32 FMA peak probe: `iters` iterations of the conv kernel's inner step on registers,
  // probe_flops_per_iter FLOPs (2 per FMA lane) each; returns a checksum.
  double (*fma_probe)(std::uint64_t iters, std::uint64_t seed);
  std::uint64_t probe_flops_per_iter;
};

}  // namespace fastq
