// Binary 2-D convolution (generic code): an implicit GEMM on the bgemm register tile. For a
// chunk of output pixels, the A operand is built in a small im2col buffer (L1/L2-sized,
// conv_chunk_rows): pixel p's row is the concatenation over taps (ky, kx) of the cgw words of
// the input pixel under that tap (its group's slice), zero words for taps outside the input.
// Each tap keeps whole words, zero bits past cg on both operands, so the padding XORs to 0 and
// the true k = kh * kw * cg corrects the count, exactly as bgemm's rows do.
//
// Zero words are +1 signs: pad_values = 1 is free. pad_values = 0 (a missing tap contributes
// 0) subtracts, for border pixels only, the sum of sign(w) over the missing taps (PadZeroFix).

// Taps t in [lo, hi) of one axis that land inside the input for output coordinate `out`.
struct TapRange {
  std::size_t lo, hi;
};
FASTQ_INLINE TapRange valid_taps(std::size_t out, std::size_t stride, std::size_t dil, std::size_t pad,
                                 std::size_t in, std::size_t taps) {
  using ll = long long;
  const ll base = static_cast<ll>(out * stride) - static_cast<ll>(pad), d = static_cast<ll>(dil);
  ll lo = base >= 0 ? 0 : (-base + d - 1) / d;
  ll hi = base >= static_cast<ll>(in) ? 0 : (static_cast<ll>(in) - 1 - base) / d + 1;
  if (hi > static_cast<ll>(taps)) hi = static_cast<ll>(taps);
  if (lo > hi) lo = hi;
  return {static_cast<std::size_t>(lo), static_cast<std::size_t>(hi)};
}

// pad_values = 0: dot -= (sum over all taps - sum over the valid rectangle) of sign(w), from the
// 2-D prefix sums s.tap_prefix, for the tile rows whose window leaves the input.
struct PadZeroFix {
  const ConvShape* s;
  static constexpr bool none = false;
  FASTQ_INLINE void apply(std::int32_t* tile, std::size_t mr, std::size_t nc, std::size_t row0, std::size_t col0) const {
    const ConvShape& c = *s;
    const std::size_t w1 = c.kw + 1;
    for (std::size_t i = 0; i < mr; ++i) {
      const std::size_t p = row0 + i, x = p % c.ow, y = (p / c.ow) % c.oh;
      const TapRange ry = valid_taps(y, c.sh, c.dh, c.pad_top, c.h, c.kh);
      const TapRange rx = valid_taps(x, c.sw, c.dw, c.pad_left, c.w, c.kw);
      if (ry.lo == 0 && ry.hi == c.kh && rx.lo == 0 && rx.hi == c.kw) continue;
      auto at = [&](std::size_t a, std::size_t b) { return c.tap_prefix + (a * w1 + b) * c.o + col0; };
      const std::int32_t *all = at(c.kh, c.kw), *p11 = at(ry.hi, rx.hi), *p01 = at(ry.lo, rx.hi);
      const std::int32_t *p10 = at(ry.hi, rx.lo), *p00 = at(ry.lo, rx.lo);
      std::int32_t* d = tile + i * kTileCols;
      for (std::size_t j = 0; j < nc; ++j) d[j] -= all[j] - (p11[j] - p01[j] - p10[j] + p00[j]);
    }
  }
};

// im2col rows of output pixels [p0, p0 + m), group g, into buf (m rows of kh * kw * cgw words).
inline void conv_im2col(const ConvShape& s, const std::uint64_t* x, std::size_t g, std::size_t p0, std::size_t m,
                        std::uint64_t* buf) {
  using ll = long long;
  const std::size_t cgw = s.cgw, row = s.kh * s.kw * cgw, pix = s.groups * cgw, span = s.kw * cgw;
  // A tap row of kw pixels is contiguous in x when nothing lies between them.
  const bool contiguous = s.groups == 1 && s.dw == 1;
  std::size_t ox = p0 % s.ow, oy = (p0 / s.ow) % s.oh, n = p0 / s.ow / s.oh;
  for (std::size_t r = 0; r < m; ++r) {
    std::uint64_t* dst = buf + r * row;
    const ll by = static_cast<ll>(oy * s.sh) - static_cast<ll>(s.pad_top);
    const ll bx = static_cast<ll>(ox * s.sw) - static_cast<ll>(s.pad_left);
    const bool inside_x = bx >= 0 && bx + static_cast<ll>((s.kw - 1) * s.dw) < static_cast<ll>(s.w);
    for (std::size_t ky = 0; ky < s.kh; ++ky, dst += span) {
      const ll iy = by + static_cast<ll>(ky * s.dh);
      if (iy < 0 || iy >= static_cast<ll>(s.h)) {
        for (std::size_t i = 0; i < span; ++i) dst[i] = 0;
        continue;
      }
      const std::uint64_t* src = x + (n * s.h + static_cast<std::size_t>(iy)) * s.w * pix + g * cgw;
      if (contiguous && inside_x) {
        std::memcpy(dst, src + static_cast<std::size_t>(bx) * pix, span * sizeof(std::uint64_t));
        continue;
      }
      for (std::size_t kx = 0; kx < s.kw; ++kx) {
        const ll ix = bx + static_cast<ll>(kx * s.dw);
        std::uint64_t* d = dst + kx * cgw;
        if (ix < 0 || ix >= static_cast<ll>(s.w)) {
          for (std::size_t i = 0; i < cgw; ++i) d[i] = 0;
        } else {
          const std::uint64_t* q = src + static_cast<std::size_t>(ix) * pix;
          for (std::size_t i = 0; i < cgw; ++i) d[i] = q[i];
        }
      }
    }
    if (++ox == s.ow) {
      ox = 0;
      if (++oy == s.oh) oy = 0, ++n;
    }
  }
}

inline void bconv(const ConvShape& s, const std::uint64_t* x, const std::uint64_t* w_blocked, std::size_t p0,
                  std::size_t p1, const BinaryOut& out, std::uint64_t* scratch) {
  const std::size_t row = s.kh * s.kw * s.cgw, og = s.o / s.groups, chunk = conv_chunk_rows(row);
  const std::size_t group_words = (og + kBinaryBlock - 1) / kBinaryBlock * kBinaryBlock * row;
  with_out(out, [&](const auto& typed) {
    for (std::size_t c = p0; c < p1; c += chunk) {
      const std::size_t m = p1 - c < chunk ? p1 - c : chunk;
      for (std::size_t g = 0; g < s.groups; ++g) {
        conv_im2col(s, x, g, c, m, scratch);
        const PackedRows a{scratch, m, s.kh * s.kw * s.cg, row};
        if (s.pad_zero)
          bgemm_typed(a, w_blocked + g * group_words, og, typed, PadZeroFix{&s}, c, g * og);
        else
          bgemm_typed(a, w_blocked + g * group_words, og, typed, NoFix{}, c, g * og);
      }
    }
  });
}
