// Binary 2-D convolution (generic code): an implicit GEMM on the bgemm register tile, with no
// im2col copy. The runtime lays the input out padded (ConvShape: hp x wp pixels per image, zero
// words around the image), so every output pixel's receptive field lies inside the buffer: a
// tile row is a pointer to the pixel's window origin, and the taps are fixed offsets from it
// (Segments): one segment per tap row of kw * cgw contiguous words when taps are adjacent
// (groups = 1, dilation 1 along x), else one per tap of cgw words. The weights hold the taps in
// the same order, so the A row is exactly bgemm's row of kh * kw * cgw words. Each tap keeps whole
// words, zero bits past cg on both operands, so padding XORs to 0 and the true k = kh * kw * cg
// corrects the count, as in bgemm.
//
// With one group of at most 32 channels the weights hold a 32-bit word per tap and output
// channel (ConvShape's tap words) and the tile counts in 32-bit lanes (bgemm.hpp's tile_dots32):
// no popcount spent on the zero high halves of the input's tap words.
//
// Zero words are +1 signs: pad_values = 1 is free. pad_values = 0 (a missing tap contributes
// 0) subtracts, for border pixels only, the sum of sign(w) over the missing taps (PadZeroFix).

// Taps t in [lo, hi) of one axis that land inside the input for output coordinate `out`.
struct TapRange { std::size_t lo, hi; };
FASTQ_INLINE TapRange valid_taps(std::size_t out, std::size_t stride, std::size_t dil, std::size_t pad, std::size_t in,
                                 std::size_t taps) {
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
  FASTQ_INLINE void apply(std::int32_t* tile, std::size_t mr, std::size_t nc, std::size_t row0,
                          std::size_t col0) const {
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

// The m window rows at rows against the n output channels of tap-word weights w, into output
// rows row0 ..: column tiles outer, register tiles of rows inner.
template <class Out, class Fix>
void bconv_tap_words(const std::uint64_t* const* rows, std::size_t m, const std::size_t* off, std::size_t taps,
                     std::size_t k, const std::uint64_t* w, std::size_t n, const Out& out, const Fix& fix,
                     std::size_t row0) {
  constexpr std::size_t MR = kBgemmRows;
  alignas(64) std::int32_t tile[MR * kTileCols];
  for (std::size_t c0 = 0; c0 < n; c0 += kTileCols) {
    const std::size_t nc = n - c0 < kTileCols ? n - c0 : kTileCols;
    const std::size_t nv = (nc + kTapLanes - 1) / kTapLanes;
    for (std::size_t r0 = 0; r0 < m; r0 += MR) {
      const std::size_t mr = m - r0 < MR ? m - r0 : MR;
      if (mr == MR && nc == kTileCols) {
        if constexpr (Out::direct && Fix::none) {
          tile_dots32<MR, kTapVecs>(rows + r0, off, taps, w, c0, k, out.c + (row0 + r0) * out.ld + c0, out.ld);
        } else {
          tile_dots32<MR, kTapVecs>(rows + r0, off, taps, w, c0, k, tile, kTileCols);
          tile_out<MR, kTileCols>(tile, MR, kTileCols, out, fix, row0 + r0, c0);
        }
      } else {
        tap_edge_tile_for<MR, kTapVecs>(mr, nv)(rows + r0, off, taps, w, c0, k, tile, kTileCols);
        tile_out<0, 0>(tile, mr, nc, out, fix, row0 + r0, c0);
      }
    }
  }
}

// Output pixels [p0, p1) (p = (n * oh + y) * ow + x) against every group's weights. seg: 2 * kh * kw
// entries of scratch (the tap offsets, and those of the current group).
inline void bconv(const ConvShape& s, const std::uint64_t* x, const std::uint64_t* w_blocked, std::size_t p0,
                  std::size_t p1, const BinaryOut& out, std::size_t* seg) {
  constexpr std::size_t kChunk = 256;  // window pointers per pass over the weights
  const std::size_t pix = s.groups * s.cgw, og = s.o / s.groups;
  const bool joined = s.groups == 1 && s.dw == 1;  // a tap row's kw taps are adjacent words
  const std::size_t nseg = joined ? s.kh : s.kh * s.kw, seg_words = joined ? s.kw * s.cgw : s.cgw;
  for (std::size_t ky = 0, i = 0; ky < s.kh; ++ky)
    for (std::size_t kx = 0; kx < (joined ? 1 : s.kw); ++kx) seg[i++] = (ky * s.dh * s.wp + kx * s.dw) * pix;
  std::size_t* off = seg + nseg;
  const std::size_t row = s.kh * s.kw * s.cgw;
  const std::size_t group_words = (og + kBinaryBlock - 1) / kBinaryBlock * kBinaryBlock * row;
  const std::uint64_t* rows[kChunk];
  std::size_t ox = p0 % s.ow, oy = (p0 / s.ow) % s.oh, n = p0 / s.ow / s.oh;
  // The window origin of output pixel (n, oy, ox), stepped along an output row.
  const std::size_t ow = s.ow, oh = s.oh, pixel_step = s.sw * pix;
  auto origin = [&] { return x + ((n * s.hp + oy * s.sh) * s.wp + ox * s.sw) * pix; };
  const std::uint64_t* next = origin();
  const bool tap_words = conv_tap_words(s.groups, s.cg, s.kh, s.kw);  // one word per tap (cgw = 1, groups = 1)
  if (tap_words)
    for (std::size_t ky = 0, i = 0; ky < s.kh; ++ky)
      for (std::size_t kx = 0; kx < s.kw; ++kx) seg[i++] = ky * s.dh * s.wp + kx * s.dw;
  with_out(out, [&](const auto& typed) {
    for (std::size_t c = p0; c < p1; c += kChunk) {
      const std::size_t m = p1 - c < kChunk ? p1 - c : kChunk;
      for (std::size_t r = 0; r < m; ++r) {
        rows[r] = next;
        if (++ox == ow) {
          ox = 0;
          if (++oy == oh) oy = 0, ++n;
          next = origin();  // past the last image: one past the end of x
        } else {
          next += pixel_step;
        }
      }
      if (tap_words) {
        const std::size_t taps = s.kh * s.kw, k = taps * s.cg;
        if (s.pad_zero)
          bconv_tap_words(rows, m, seg, taps, k, w_blocked, s.o, typed, PadZeroFix{&s}, c);
        else
          bconv_tap_words(rows, m, seg, taps, k, w_blocked, s.o, typed, NoFix{}, c);
        continue;
      }
      for (std::size_t g = 0; g < s.groups; ++g) {
        for (std::size_t i = 0; i < nseg; ++i) off[i] = seg[i] + g * s.cgw;
        const WindowsA<Segments> a{rows, m, s.kh * s.kw * s.cg, Segments{off, nseg, seg_words}};
        if (s.pad_zero)
          bgemm_typed(a, w_blocked + g * group_words, og, typed, PadZeroFix{&s}, c, g * og);
        else
          bgemm_typed(a, w_blocked + g * group_words, og, typed, NoFix{}, c, g * og);
      }
    }
  });
}
