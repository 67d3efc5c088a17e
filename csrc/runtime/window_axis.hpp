// One spatial axis of a convolution or pooling window, from shapes (TensorFlow's rules): shared
// by the binary convolution (bindings/bconv.cpp) and the float layers (runtime/float_ops.cpp),
// so that both accept the same geometry and read the same taps. Baseline code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>

namespace fastq {
// The window's extent (taps - 1) * dil + 1, saturated (a huge dilation must not wrap around).
inline std::size_t window_extent(std::size_t taps, std::size_t dil) {
  std::size_t r;
  return __builtin_mul_overflow(taps - 1, dil, &r) || r == SIZE_MAX ? SIZE_MAX : r + 1;
}

// Output size, padding before the first element (top / left) and the dilation the kernels use.
struct WindowAxis { std::size_t out, pad, dil; };

// valid: out = floor((in - extent) / stride) + 1, 0 when in < extent. same: out = ceil(in /
// stride), total padding max((out - 1) * stride + extent - in, 0), floor(total / 2) before.
//
// A "same" window whose dilation spaces its taps further apart than the rows all outputs read
// (dil > span = (out - 1) * stride + in) has at most one tap, t0, that ever lands inside the
// input: every other tap only ever reads padding. The kernels then get dil' = span + 1 and the
// padding that keeps t0 on the same rows (or, when no tap lands, keeps the taps on the same
// sides of the input): each output reads the same input positions and the same number of
// padding taps, so results are identical, and the padded extent, about taps * dil (which can
// pass 2^64), becomes at most about taps * (span + 1): bounded by the data.
inline WindowAxis window_axis(std::size_t in, std::size_t taps, std::size_t stride, std::size_t dil, bool same) {
  if (!same) {
    const std::size_t extent = window_extent(taps, dil);
    return {in >= extent ? (in - extent) / stride + 1 : 0, 0, dil};
  }
  const std::size_t out = in / stride + (in % stride != 0);
  if (out == 0) return {0, 0, dil};
  using u128 = unsigned __int128;                                   // exact: (taps - 1) * dil can pass 2^64
  const std::size_t reach = (out - 1) * stride, span = reach + in;  // reach < in
  const u128 extent = u128(taps - 1) * dil + 1;
  const u128 pad = extent > in - reach ? (extent - (in - reach)) / 2 : 0;
  u128 pad2 = pad;
  std::size_t dil2 = dil;
  if (dil > span) {
    // Tap t reads rows t * dil - pad + [0, reach]; `first` is the first one not entirely above row 0.
    dil2 = span + 1;
    const u128 above = pad > reach ? (pad - reach + dil - 1) / dil : 0;
    const std::size_t first = static_cast<std::size_t>(above < taps ? above : taps);
    if (first < taps && u128(first) * dil < pad + in)
      pad2 = pad - u128(first) * (dil - dil2);  // tap `first` lands: it keeps its rows
    else  // none does: tap first - 1 (>= 0: tap 0 starts at -pad <= 0) ends at row -1
      pad2 = u128(first - 1) * dil2 + reach + 1;
  }
  if (pad2 > SIZE_MAX) throw std::bad_array_new_length();  // no buffer could hold such an input
  return {out, static_cast<std::size_t>(pad2), dil2};
}
}  // namespace fastq
