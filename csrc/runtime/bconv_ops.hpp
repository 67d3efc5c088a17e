// Binary convolution drivers (binary family, see binary_common.hpp; contract in docs/binary.md).
#pragma once
#include "runtime/binary_common.hpp"

namespace fastq {
// Words of a convolution's weights in the kernels' layout: groups blocks of o / groups rows of
// row_words words each.
inline std::size_t conv_weight_words(std::size_t o, std::size_t groups, std::size_t row_words) {
  return groups * blocked_words(o / groups, row_words);
}

// words: o rows of kh * kw * cgw words (tap by tap, cgw = packed_words(cg) words each: the
// public packing of kernel[ky, kx, :, j] for output channel j) -> blocked: conv_weight_words
// words; prefix: (kh + 1) * (kw + 1) * o int32, the 2-D prefix sums over taps of each tap's sum
// of sign(w) (ConvShape::tap_prefix).
void conv_weights(const KernelTable& t, const std::uint64_t* words, std::size_t o, std::size_t groups, std::size_t kh,
                  std::size_t kw, std::size_t cg, std::uint64_t* blocked, std::int32_t* prefix);

// What x points to: float32 / float64 NHWC values (n, h, w, groups * cg), or their public packed
// words (n, h, w, packed_words(groups * cg)).
enum class ConvInput { f32, f64, words };

// The convolution of x with w_blocked into out (output rows are pixels, n * oh * ow of them;
// signs output: zeroed here first). s: everything but hp, wp, set here. x is first laid out in
// the kernels' padded, grouped layout (ConvShape) in one pass - float input is sign-binarized
// and packed straight into it - unless it already is that layout ("valid", packed, groups
// slices whole words). Both passes are split over the thread pool.
void binary_conv2d(const KernelTable& t, ConvShape s, const void* x, ConvInput kind, const std::uint64_t* w_blocked,
                   const BinaryOut& out);
}  // namespace fastq
