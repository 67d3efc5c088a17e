#include "runtime/bconv_ops.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/bitpack_ops.hpp"
#include "runtime/thread_pool.hpp"

namespace fastq {
namespace {
// Below about this many word pairs (~7 us at the popcount peak here), one thread. Lower than
// bgemm_ops's: a model's 28x28x64 layers (40 us, 0.45 M word pairs) ran on one thread of two.
constexpr std::size_t kMinParallelWordPairs = std::size_t(1) << 17;
}  // namespace

void conv_weights(const KernelTable& t, const std::uint64_t* words, std::size_t o, std::size_t groups, std::size_t kh,
                  std::size_t kw, std::size_t cg, std::uint64_t* blocked, std::int32_t* prefix) {
  const std::size_t cgw = packed_words(cg), row = kh * kw * cgw, og = o / groups;
  // The loops here run outside any region: they checkpoint every kMaxTaskWork words (Ctrl-C
  // during a huge kernel's pass).
  TaskMeter meter;
  if (conv_tap_words(groups, cg, kh, kw)) {  // ConvShape: 32-bit words per tap and channel
    const std::size_t taps = kh * kw, half = kTapBlock / 2;
    std::memset(blocked, 0, ceil_div(o, kTapBlock) * taps * half * sizeof(std::uint64_t));
    for (std::size_t j = 0; j < o; ++j) {
      if (meter.spend(taps)) throw Interrupted();
      std::uint64_t* dst = blocked + (j / kTapBlock) * taps * half + (j % kTapBlock) / 2;
      for (std::size_t tap = 0; tap < taps; ++tap)  // cgw = 1: a word per tap, its high half zero
        dst[tap * half] |= words[j * row + tap] << (32 * (j % 2));
    }
  } else {
    for (std::size_t g = 0; g < groups; ++g)
      pack_blocked(t, words + g * og * row, og, row, blocked + g * blocked_words(og, row));
  }
  const std::size_t w1 = kw + 1;
  std::memset(prefix, 0, (kh + 1) * w1 * o * sizeof(std::int32_t));
  for (std::size_t ky = 0; ky < kh; ++ky)
    for (std::size_t kx = 0; kx < kw; ++kx) {
      std::int32_t* p = prefix + ((ky + 1) * w1 + kx + 1) * o;
      const std::int32_t *up = prefix + (ky * w1 + kx + 1) * o, *left = prefix + ((ky + 1) * w1 + kx) * o;
      const std::int32_t* diag = prefix + (ky * w1 + kx) * o;
      for (std::size_t j = 0; j < o; ++j) {
        if (meter.spend(cgw + 1)) throw Interrupted();
        const std::uint64_t* tap = words + j * row + (ky * kw + kx) * cgw;
        long long ones = 0;
        for (std::size_t i = 0; i < cgw; ++i) ones += __builtin_popcountll(tap[i]);
        const auto sum = static_cast<std::int32_t>(static_cast<long long>(cg) - 2 * ones);  // sum of sign(w)
        p[j] = sum + up[j] + left[j] - diag[j];
      }
    }
}

void binary_conv2d(const KernelTable& t, ConvShape s, const void* x, ConvInput kind, const std::uint64_t* w_blocked,
                   const BinaryOut& out) {
  const std::size_t pixels = s.n * s.oh * s.ow;
  if (pixels == 0 || s.o == 0) return;
  // The padded image: rows and columns the outputs read, and room for the whole input. Sizes
  // are checked (MemoryError, never a wrapped size); a huge "same" dilation arrives already
  // shrunk to one bounded by the input (runtime/window_axis.hpp).
  const std::size_t need_h = size_add(size_add(size_mul(s.oh - 1, s.sh), size_mul(s.kh - 1, s.dh)), 1);
  const std::size_t need_w = size_add(size_add(size_mul(s.ow - 1, s.sw), size_mul(s.kw - 1, s.dw)), 1);
  s.hp = std::max(need_h, size_add(s.pad_top, s.h));
  s.wp = std::max(need_w, size_add(s.pad_left, s.w));
  const std::size_t pix = s.groups * s.cgw, c = s.groups * s.cg, cw = packed_words(c);
  const bool grouped = s.groups == 1 || s.cg % 64 == 0;  // public packed words are the grouped layout
  std::unique_ptr<std::uint64_t[]> padded;
  const std::uint64_t* xp = static_cast<const std::uint64_t*>(x);
  if (!(kind == ConvInput::words && grouped && s.hp == s.h && s.wp == s.w)) {
    // Not zero-filled here: the tasks below write every word (and answer Ctrl-C meanwhile).
    padded.reset(new std::uint64_t[size_mul(size_mul(size_mul(s.n, s.hp), s.wp), pix)]);
    std::uint64_t* base = padded.get();
    // Image rows (n, y) of the padded buffer, each filled once: zeros outside the image, the
    // packed input row inside.
    for_unit_ranges(s.n * s.hp, s.wp * pix * (kind == ConvInput::words ? 1 : 64), kMinParallelWordPairs / 8, 1, 1,
                    [&](std::size_t r0, std::size_t r1) {
                      for (std::size_t r = r0; r < r1; ++r) {
                        const std::size_t n = r / s.hp, y = r % s.hp;
                        std::uint64_t* dst = base + r * s.wp * pix;
                        if (y < s.pad_top || y >= s.pad_top + s.h) {
                          std::memset(dst, 0, s.wp * pix * sizeof(std::uint64_t));
                          continue;
                        }
                        std::memset(dst, 0, s.pad_left * pix * sizeof(std::uint64_t));
                        std::memset(dst + (s.pad_left + s.w) * pix, 0,
                                    (s.wp - s.pad_left - s.w) * pix * sizeof(std::uint64_t));
                        dst += s.pad_left * pix;
                        const std::size_t src = (n * s.h + y - s.pad_top) * s.w;  // the input row's first pixel
                        if (kind == ConvInput::f32)
                          t.binary.pack_f32(static_cast<const float*>(x) + src * c, s.w * s.groups, s.cg, dst);
                        else if (kind == ConvInput::f64)
                          t.binary.pack_f64(static_cast<const double*>(x) + src * c, s.w * s.groups, s.cg, dst);
                        else if (grouped)
                          std::memcpy(dst, xp + src * cw, s.w * pix * sizeof(std::uint64_t));
                        else
                          regroup_rows(xp + src * cw, s.w, s.groups, s.cg, dst);
                      }
                    });
    xp = padded.get();
  } else {
    s.hp = s.h, s.wp = s.w;
  }
  const std::size_t row = s.kh * s.kw * s.cgw;
  const std::size_t work = s.o * (row ? row : 1);
  // Pixel ranges of whole register tiles (8 is a multiple of every table's tile rows), a few
  // per thread, claimed dynamically.
  for_unit_ranges(pixels, work, kMinParallelWordPairs, 8, 4, [&](std::size_t p0, std::size_t p1) {
    if (out.kind == BinaryOutKind::signs)  // the kernel ORs bits into zeroed words
      std::memset(static_cast<std::uint64_t*>(out.data) + p0 * out.ld, 0, (p1 - p0) * out.ld * sizeof(std::uint64_t));
    std::vector<std::size_t> seg(2 * s.kh * s.kw);
    t.binary.conv(s, xp, w_blocked, p0, p1, out, seg.data());
  });
}
}  // namespace fastq
