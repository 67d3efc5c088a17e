// Float convolutions (generic code over the vector vocabulary): NHWC x HWIO direct convolution,
// depthwise convolution, and the FMA peak probe. The contract is in fastq/float_kernels.hpp:
// each output channel is one lane of one vector, and each output accumulates its valid taps in
// the order (kh, kw, c) from +0 with one fused multiply-add per tap. Tiles only decide which
// outputs are computed together, never the order of one output's operations, so every ISA
// (and every thread split) gives the scalar table's bits.
//
// Register tile (BLAS style): fconv_rows(nv) output pixels of one output row x nv vectors of
// output channels (csrc/simd/<isa>.hpp). Per tap: nv weight loads from the packed block, one
// broadcast of the input value per pixel, rows x nv FMAs. Pixels whose window crosses the
// left / right border run as one-pixel tiles with their own kw range; a row's kh range is
// shared by all its pixels.

using FV = Vec<float>;
constexpr std::size_t kFL = FV::lanes;
constexpr std::size_t kFconvBlock = kFconvVecs * kFL;

FASTQ_INLINE std::size_t fconv_round_lanes(std::size_t n) { return (n + kFL - 1) / kFL * kFL; }
// Width of the packed channel block starting at channel ch0 of o.
FASTQ_INLINE std::size_t fconv_block_width(std::size_t o, std::size_t ch0) {
  const std::size_t rest = fconv_round_lanes(o - ch0);
  return rest < kFconvBlock ? rest : kFconvBlock;
}

// HWIO (taps x o) -> blocks of kFconvBlock channels: block starting at ch0 holds [tap][width]
// at packed + ch0 * taps (earlier blocks are full), missing channels zero.
inline void fconv_pack(const float* w, std::size_t taps, std::size_t o, float* out) {
  for (std::size_t ch0 = 0; ch0 < o; ch0 += kFconvBlock) {
    const std::size_t nb = fconv_block_width(o, ch0), valid = o - ch0 < nb ? o - ch0 : nb;
    float* dst = out + ch0 * taps;
    for (std::size_t t = 0; t < taps; ++t) {
      for (std::size_t j = 0; j < valid; ++j) dst[t * nb + j] = w[t * o + ch0 + j];
      for (std::size_t j = valid; j < nb; ++j) dst[t * nb + j] = 0.0f;
#if defined(FASTQ_FCONV_PAIRS)
      // At most half a vector of channels: a copy in the upper half for fconv_row_pairs.
      if (nb == kFL && valid <= kFL / 2)
        for (std::size_t j = 0; j < valid; ++j) dst[t * nb + kFL / 2 + j] = w[t * o + j];
#endif
    }
  }
}

// Epilogue of one vector (fastq/float_kernels.hpp: separate roundings, no FMA).
FASTQ_INLINE FV fepilogue(FV y, const FloatEpilogue& e, const float* scale, const float* bias) {
  if (e.scale) y = y * FV::load(scale);
  if (e.bias) y = y + FV::load(bias);
  if (e.relu) y = at_least(y, FV::splat(0.0f));
  return y;
}
// The same for one lane (channel tails outside whole vectors): the same operations.
FASTQ_INLINE float fepilogue1(float y, const FloatEpilogue& e, std::size_t ch) {
  if (e.scale) y = y * e.scale[ch];
  if (e.bias) y = y + e.bias[ch];
  if (e.relu) y = y < 0.0f ? 0.0f : y;
  return y;
}

// Store `valid` (<= lanes) channels of v at p.
FASTQ_INLINE void fstore_part(float* p, FV v, std::size_t valid) {
  if (valid >= kFL) {
    FV::store(p, v);
  } else {
    float buf[kFL];
    FV::store(buf, v);
    std::memcpy(p, buf, valid * sizeof(float));
  }
}

// Valid tap range [k0, k1) of a window whose tap 0 sits at input coordinate `origin` (may be
// negative), dilation d, k taps, input size n.
FASTQ_INLINE void ftap_range(std::ptrdiff_t origin, std::size_t d, std::size_t k, std::size_t n, std::size_t* k0,
                             std::size_t* k1) {
  const std::ptrdiff_t sd = static_cast<std::ptrdiff_t>(d);
  std::ptrdiff_t lo = origin >= 0 ? 0 : (-origin + sd - 1) / sd;
  std::ptrdiff_t last = static_cast<std::ptrdiff_t>(n) - 1 - origin;  // taps with origin + t*d <= n - 1
  std::ptrdiff_t hi = last < 0 ? 0 : last / sd + 1;
  if (hi > static_cast<std::ptrdiff_t>(k)) hi = static_cast<std::ptrdiff_t>(k);
  if (lo > hi) lo = hi;
  *k0 = static_cast<std::size_t>(lo);
  *k1 = static_cast<std::size_t>(hi);
}

// Output columns [lo, hi) whose whole kw window is inside the input row.
FASTQ_INLINE void finterior(const ConvGeom& g, std::size_t* lo, std::size_t* hi) {
  const std::size_t span = (g.kw - 1) * g.dw;  // input columns a window covers, minus one
  *lo = (g.pl + g.sw - 1) / g.sw;
  *hi = g.w + g.pl >= span + 1 ? (g.w - 1 + g.pl - span) / g.sw + 1 : 0;
  if (*hi > g.ow) *hi = g.ow;
  if (*lo > *hi) *lo = *hi;
}

// ---- Convolution ----

// MR pixels x NV vectors: acc += x * w over taps kh in [0, nkh), kw in [0, nkw), c in [0, C).
// x: the first pixel's input at its first valid tap; xps: floats between the tile's pixels;
// xrs / xcs: floats per kh / kw step. w: the block's weights at the first valid tap; wrs / wcs:
// floats per kh / kw step (c steps nb).
template <std::size_t MR, std::size_t NV>
FASTQ_INLINE void fconv_taps(FV (&acc)[MR][NV], const float* x, std::size_t xps, std::size_t xrs, std::size_t xcs,
                             const float* w, std::size_t nb, std::size_t wrs, std::size_t wcs, std::size_t nkh,
                             std::size_t nkw, std::size_t C) {
  auto step = [&](const float* xp, const float* wp) __attribute__((always_inline)) {
    FV wv[NV];
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) wv[v] = FV::load(wp + v * kFL);
#pragma GCC unroll 16
    for (std::size_t p = 0; p < MR; ++p) {
      const FV xv = FV::splat(xp[p * xps]);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) acc[p][v] = fma(xv, wv[v], acc[p][v]);
    }
  };
  for (std::size_t kh = 0; kh < nkh; ++kh) {
    const float* xr = x + kh * xrs;
    const float* wr = w + kh * wrs;
    if (xcs == C) {  // dilation 1: the (kw, c) pairs of a row are contiguous in x and in w
      const std::size_t n = nkw * C;
      for (std::size_t j = 0; j < n; ++j) step(xr + j, wr + j * nb);
    } else {
      for (std::size_t kw = 0; kw < nkw; ++kw)
        for (std::size_t c = 0; c < C; ++c) step(xr + kw * xcs + c, wr + kw * wcs + c * nb);
    }
  }
}

// Output pixels [ow0, ow1) of row (n, oy), channels [ch0, ch0 + NV * lanes) of block w.
template <std::size_t NV>
void fconv_row_block(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y, std::size_t n,
                     std::size_t oy, std::size_t ow0, std::size_t ow1, std::size_t ch0, std::size_t ilo,
                     std::size_t ihi) {
  constexpr std::size_t MR = fconv_rows(NV);
  const std::size_t nb = NV * kFL, C = g.c;
  const std::size_t valid = g.o - ch0 < nb ? g.o - ch0 : nb;
  const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy * g.sh) - static_cast<std::ptrdiff_t>(g.pt);
  std::size_t kh0, kh1;
  ftap_range(iy, g.dh, g.kh, g.h, &kh0, &kh1);
  const std::size_t xps = g.sw * C, xrs = g.dh * g.w * C, xcs = g.dw * C;
  const std::size_t wcs = C * nb, wrs = g.kw * wcs;
  const float* ximg = x + n * g.h * g.w * C;
  float* yrow = y + ((n * g.oh + oy) * g.ow) * g.o + ch0;
  const float* scale = e.scale ? e.scale + ch0 : nullptr;
  const float* bias = e.bias ? e.bias + ch0 : nullptr;
  const std::size_t o = g.o;

  // Accumulate `M` pixels from column ox over taps [kh0, kh1) x [kw0, kw1), then store.
  auto tile = [&](auto mr, std::size_t ox, std::size_t kw0, std::size_t kw1) __attribute__((always_inline)) {
    constexpr std::size_t M = decltype(mr)::value;
    FV acc[M][NV];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < M; ++p)
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) acc[p][v] = FV::splat(0.0f);
    if (kh1 > kh0 && kw1 > kw0) {
      const std::size_t ix = ox * g.sw + kw0 * g.dw - g.pl;  // first valid input column (>= 0)
      const std::size_t row = static_cast<std::size_t>(iy + static_cast<std::ptrdiff_t>(kh0 * g.dh));
      const float* xp = ximg + (row * g.w + ix) * C;
      fconv_taps<M, NV>(acc, xp, xps, xrs, xcs, w + kh0 * wrs + kw0 * wcs, nb, wrs, wcs, kh1 - kh0, kw1 - kw0, C);
    }
    // The epilogue's operands as the lambda's own locals: captured ones live in memory that the
    // vector stores below may alias (as far as the compiler knows), so it reloaded them and
    // re-tested the flags per vector.
    const FloatEpilogue pe = e;
    const float* const sc = scale;
    const float* const bi = bias;
    float* const yt = yrow + ox * o;
    const std::size_t oo = o, nvalid = valid;
#pragma GCC unroll 16
    for (std::size_t p = 0; p < M; ++p) {
      float* yp = yt + p * oo;
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) {
        if (v * kFL >= nvalid) break;
        const FV r = fepilogue(acc[p][v], pe, sc ? sc + v * kFL : nullptr, bi ? bi + v * kFL : nullptr);
        fstore_part(yp + v * kFL, r, nvalid - v * kFL);
      }
    }
  };
  // One pixel with its own kw range (borders, and the interior's last pixels).
  auto single = [&](std::size_t ox) {
    std::size_t kw0, kw1;
    ftap_range(static_cast<std::ptrdiff_t>(ox * g.sw) - static_cast<std::ptrdiff_t>(g.pl), g.dw, g.kw, g.w, &kw0, &kw1);
    tile(std::integral_constant<std::size_t, 1>{}, ox, kw0, kw1);
  };
  const std::size_t lo = ilo > ow0 ? ilo : ow0, hi = ihi < ow1 ? ihi : ow1;
  std::size_t ox = ow0;
  for (; ox < ow1 && ox < lo; ++ox) single(ox);
  for (; ox + MR <= hi; ox += MR) tile(std::integral_constant<std::size_t, MR>{}, ox, 0, g.kw);
  // The interior's last pixels in smaller tiles: a one-pixel tile is one latency-bound chain.
  if constexpr (MR > 4)
    for (; ox + 4 <= hi; ox += 4) tile(std::integral_constant<std::size_t, 4>{}, ox, 0, g.kw);
  if constexpr (MR > 2)
    for (; ox + 2 <= hi; ox += 2) tile(std::integral_constant<std::size_t, 2>{}, ox, 0, g.kw);
  for (; ox < ow1; ++ox) single(ox);
}

#if defined(FASTQ_FCONV_PAIRS)
// ---- At most half a vector of output channels: two pixels per vector ----
// One pixel would fill half the lanes, and its tile needs one broadcast per FMA, which bounds it
// below half the FMA peak. Here lanes [0, L/2) hold output pixel ox and lanes [L/2, L) pixel
// ox + 1. One kernel row's input of both pixels is one load of (sw + kw) * c floats
// (conv_pairs_fit), and each tap's pair of input values is one lane permute of it; the packed
// block holds each tap's channels in both halves (fconv_pack). Each output still accumulates
// its taps in (kh, kw, c) order, one FMA each.
constexpr std::size_t kPairTile = 8;  // pairs per tile: 8 accumulators + 8 loaded input rows

FASTQ_INLINE bool fconv_pairs_fit(const ConvGeom& g) { return conv_pairs_fit(kFL, g.o, g.c, g.kw, g.sw, g.dw); }

// P pairs of interior pixels (every kw tap valid) from x (pixel ox's input at its first valid
// kernel row) over nkh kernel rows of w (the packed block at that row); outputs from y.
template <std::size_t P>
FASTQ_INLINE void fconv_pair_tile(const float* x, const float* w, const ConvGeom& g, std::size_t nkh, bool has_scale,
                                  FV scale, bool has_bias, FV bias, bool relu, float* y) {
  const std::size_t xps = g.sw * g.c, xrs = g.dh * g.w * g.c, taps = g.kw * g.c, span = xps + taps, o = g.o;
  FV acc[P];
#pragma GCC unroll 16
  for (std::size_t p = 0; p < P; ++p) acc[p] = FV::splat(0.0f);
  for (std::size_t kh = 0; kh < nkh; ++kh) {
    const float* xr = x + kh * xrs;
    const float* wr = w + kh * taps * kFL;
    FV xv[P];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) xv[p] = load_first(xr + 2 * p * xps, span);
    PairIndex idx = pair_index(0, xps);
    for (std::size_t t = 0; t < taps; ++t) {
      const FV wv = FV::load(wr + t * kFL);
#pragma GCC unroll 16
      for (std::size_t p = 0; p < P; ++p) acc[p] = fma(pair_lanes(xv[p], idx), wv, acc[p]);
      idx = next_lane(idx);
    }
  }
#pragma GCC unroll 16
  for (std::size_t p = 0; p < P; ++p) {
    FV r = acc[p];
    if (has_scale) r = r * scale;
    if (has_bias) r = r + bias;
    if (relu) r = at_least(r, FV::splat(0.0f));
    store_halves(y + 2 * p * o, y + (2 * p + 1) * o, r, o);
  }
}

// Output pixels [ow0, ow1) of row (n, oy): interior pixels in pairs, the others (borders, an odd
// last one) through fconv_row_block.
inline void fconv_row_pairs(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y,
                            std::size_t n, std::size_t oy, std::size_t ow0, std::size_t ow1, std::size_t ilo,
                            std::size_t ihi) {
  const std::size_t lo = ilo > ow0 ? ilo : ow0, hi = ihi < ow1 ? ihi : ow1;
  if (lo >= hi) {
    fconv_row_block<1>(x, w, g, e, y, n, oy, ow0, ow1, 0, ilo, ihi);
    return;
  }
  fconv_row_block<1>(x, w, g, e, y, n, oy, ow0, lo, 0, ilo, ihi);
  const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy * g.sh) - static_cast<std::ptrdiff_t>(g.pt);
  std::size_t kh0, kh1;
  ftap_range(iy, g.dh, g.kh, g.h, &kh0, &kh1);
  const std::size_t nkh = kh1 - kh0, C = g.c;
  // A row wholly in the padding reads no input: any pointer will do.
  const std::size_t row = nkh ? static_cast<std::size_t>(iy + static_cast<std::ptrdiff_t>(kh0 * g.dh)) : 0;
  const float* ximg = x + n * g.h * g.w * C;
  const float* wk = w + kh0 * g.kw * C * kFL;
  float* yrow = y + (n * g.oh + oy) * g.ow * g.o;
  const FV scale = e.scale ? load_both_halves(e.scale) : FV::splat(0.0f);
  const FV bias = e.bias ? load_both_halves(e.bias) : FV::splat(0.0f);
  // The flags by value: the stores may alias e as far as the compiler knows.
  const bool has_scale = e.scale != nullptr, has_bias = e.bias != nullptr, relu = e.relu;
  auto tile = [&](auto pairs, std::size_t ox) __attribute__((always_inline)) {
    const float* xp = ximg + (row * g.w + ox * g.sw - g.pl) * C;
    fconv_pair_tile<decltype(pairs)::value>(xp, wk, g, nkh, has_scale, scale, has_bias, bias, relu, yrow + ox * g.o);
  };
  constexpr std::size_t kSpan = 2 * kPairTile;
  std::size_t ox = lo;
  for (; ox + kSpan <= hi; ox += kSpan) tile(std::integral_constant<std::size_t, kPairTile>{}, ox);
  if (ox > lo && ox + 1 < hi) {
    // The last pixels as one whole tile ending at hi: it recomputes some outputs of the tile
    // before (the same bits) instead of running short, latency-bound tiles.
    tile(std::integral_constant<std::size_t, kPairTile>{}, hi - kSpan);
    ox = hi;
  }
  for (; ox + 8 <= hi; ox += 8) tile(std::integral_constant<std::size_t, 4>{}, ox);
  for (; ox + 4 <= hi; ox += 4) tile(std::integral_constant<std::size_t, 2>{}, ox);
  for (; ox + 2 <= hi; ox += 2) tile(std::integral_constant<std::size_t, 1>{}, ox);
  fconv_row_block<1>(x, w, g, e, y, n, oy, ox, ow1, 0, ilo, ihi);
}
#endif

// Rows [r0, r1) x columns [c0, c1) x channel blocks [b0, b1). The last block's epilogue loads
// whole vectors of scale / bias, so callers pad them to round_up(o, lanes) floats.
inline void fconv(const float* x, const float* packed, const ConvGeom& g, const FloatEpilogue& e, float* y,
                  std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, std::size_t b0, std::size_t b1) {
  const std::size_t taps = g.kh * g.kw * g.c;
  std::size_t ilo, ihi;
  finterior(g, &ilo, &ihi);
#if defined(FASTQ_FCONV_PAIRS)
  if (fconv_pairs_fit(g)) {  // one block
    if (b0 < b1)
      for (std::size_t r = r0; r < r1; ++r) fconv_row_pairs(x, packed, g, e, y, r / g.oh, r % g.oh, c0, c1, ilo, ihi);
    return;
  }
#endif
  for (std::size_t b = b0; b < b1; ++b) {
    const std::size_t ch0 = b * kFconvBlock;
    const std::size_t nv = fconv_block_width(g.o, ch0) / kFL;
    const float* w = packed + ch0 * taps;
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / g.oh, oy = r % g.oh;
      switch (nv) {
#define FASTQ_FCONV_CASE(NV)                                                                          \
  case NV:                                                                                            \
    if constexpr (NV <= kFconvVecs) fconv_row_block<NV>(x, w, g, e, y, n, oy, c0, c1, ch0, ilo, ihi); \
    break;
        FASTQ_FCONV_CASE(1)
        FASTQ_FCONV_CASE(2)
        FASTQ_FCONV_CASE(3)
        FASTQ_FCONV_CASE(4)
#undef FASTQ_FCONV_CASE
        default:
          break;
      }
    }
  }
}

// ---- Depthwise convolution and pooling: channels in lanes, loaded as vectors ----

// Per-op policy: init / step / finish of one vector, and the same for one lane (channel tails).
struct FDepthwiseOp {
  static constexpr bool kWeights = true;
  static FASTQ_INLINE FV init() { return FV::splat(0.0f); }
  static FASTQ_INLINE FV step(FV a, FV x, FV w) { return fma(x, w, a); }
  static FASTQ_INLINE float init1() { return 0.0f; }
  static FASTQ_INLINE float step1(float a, float x, float w) { return __builtin_fmaf(x, w, a); }
};
// max: m = x where x > m (TensorFlow's CPU rule): NaN taps are ignored, the first of equal
// values (+0 / -0) stays. at_least is one MAXPS on x86.
struct FMaxOp {
  static constexpr bool kWeights = false;
  static FASTQ_INLINE FV init() { return FV::splat(-std::numeric_limits<float>::infinity()); }
  static FASTQ_INLINE FV step(FV m, FV x, FV) { return at_least(m, x); }
  static FASTQ_INLINE float init1() { return -std::numeric_limits<float>::infinity(); }
  static FASTQ_INLINE float step1(float m, float x, float) { return m < x ? x : m; }
};
struct FSumOp {
  static constexpr bool kWeights = false;
  static FASTQ_INLINE FV init() { return FV::splat(0.0f); }
  static FASTQ_INLINE FV step(FV a, FV x, FV) { return a + x; }
  static FASTQ_INLINE float init1() { return 0.0f; }
  static FASTQ_INLINE float step1(float a, float x, float) { return a + x; }
};

// What happens after the taps: 0 depthwise epilogue, 1 none (max), 2 divide by the tap count.
template <class Op>
constexpr int kFinish = std::is_same<Op, FDepthwiseOp>::value ? 0
                        : std::is_same<Op, FSumOp>::value     ? 2
                                                              : 1;

// MR pixels x NV channel vectors from channel c0 over taps [kh0, kh1) x [kw0, kw1).
template <class Op, std::size_t MR, std::size_t NV>
FASTQ_INLINE void fwindow_tile(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y,
                               std::ptrdiff_t iy, std::size_t kh0, std::size_t kh1, std::size_t ox, std::size_t kw0,
                               std::size_t kw1, std::size_t c0) {
  const std::size_t C = g.c;
  FV acc[MR][NV];
#pragma GCC unroll 16
  for (std::size_t p = 0; p < MR; ++p)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) acc[p][v] = Op::init();
  const std::size_t ix0 = ox * g.sw + kw0 * g.dw - g.pl;
  for (std::size_t kh = kh0; kh < kh1; ++kh) {
    const float* xr = x + (static_cast<std::size_t>(iy + static_cast<std::ptrdiff_t>(kh * g.dh)) * g.w + ix0) * C + c0;
    for (std::size_t kw = kw0; kw < kw1; ++kw) {
      const float* xt = xr + (kw - kw0) * g.dw * C;
      FV wv[NV];
      if constexpr (Op::kWeights) {
        const float* wt = w + (kh * g.kw + kw) * C + c0;
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) wv[v] = FV::load(wt + v * kFL);
      }
#pragma GCC unroll 16
      for (std::size_t p = 0; p < MR; ++p)
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) {
          FV xv = FV::load(xt + p * g.sw * C + v * kFL);
          full_load(xv);
          acc[p][v] = Op::step(acc[p][v], xv, Op::kWeights ? wv[v] : xv);
        }
    }
  }
  // s / count; for a power-of-two count s * (1 / count) is the same correctly rounded value
  // (the reciprocal is exact), and a multiply is far cheaper than a vector division.
  const std::size_t taps = (kh1 - kh0) * (kw1 - kw0);
  const bool pow2 = taps != 0 && (taps & (taps - 1)) == 0;
  const FV count = FV::splat(static_cast<float>(taps));
  const FV inv = FV::splat(1.0f / static_cast<float>(taps));
  // Locals, not loads through e / g: the stores below may alias them as far as the compiler
  // knows, which made it reload (and re-test) every field after every store.
  const FloatEpilogue le = e;
  float* const yt = y + ox * g.o + c0;
  const std::size_t o = g.o;
#pragma GCC unroll 16
  for (std::size_t p = 0; p < MR; ++p)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) {
      FV r = acc[p][v];
      const std::size_t ch = c0 + v * kFL;
      if constexpr (kFinish<Op> == 0)
        r = fepilogue(r, le, le.scale ? le.scale + ch : nullptr, le.bias ? le.bias + ch : nullptr);
      else if constexpr (kFinish<Op> == 2)
        r = pow2 ? r * inv : r / count;
      else if (le.relu)
        r = at_least(r, FV::splat(0.0f));
      FV::store(yt + p * o + v * kFL, r);
    }
}

// Channel tail (channels [c0, C), fewer than a vector) of one pixel, one lane at a time with the
// same operations; taps outer, so the lanes' chains are independent.
template <class Op>
FASTQ_INLINE void fwindow_tail(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y,
                               std::ptrdiff_t iy, std::size_t kh0, std::size_t kh1, std::size_t ox, std::size_t kw0,
                               std::size_t kw1, std::size_t c0) {
  const std::size_t C = g.c, nc = C - c0;
  const std::size_t ix0 = ox * g.sw + kw0 * g.dw - g.pl;
  float a[kFL];
  for (std::size_t j = 0; j < nc; ++j) a[j] = Op::init1();
  for (std::size_t kh = kh0; kh < kh1; ++kh) {
    const float* xr = x + (static_cast<std::size_t>(iy + static_cast<std::ptrdiff_t>(kh * g.dh)) * g.w + ix0) * C + c0;
    for (std::size_t kw = kw0; kw < kw1; ++kw) {
      const float* xt = xr + (kw - kw0) * g.dw * C;
      const float* wt = Op::kWeights ? w + (kh * g.kw + kw) * C + c0 : nullptr;
      for (std::size_t j = 0; j < nc; ++j) a[j] = Op::step1(a[j], xt[j], Op::kWeights ? wt[j] : 0.0f);
    }
  }
  for (std::size_t j = 0; j < nc; ++j) {
    float r = a[j];
    if constexpr (kFinish<Op> == 0)
      r = fepilogue1(r, e, c0 + j);
    else if constexpr (kFinish<Op> == 2)
      r = r / static_cast<float>((kh1 - kh0) * (kw1 - kw0));
    else if (e.relu)
      r = r < 0.0f ? 0.0f : r;
    y[ox * g.o + c0 + j] = r;
  }
}

// M pixels from ox x NV channel vectors from c0, as tiles of at most fconv_rows(NV) pixels.
template <class Op, std::size_t M, std::size_t NV>
FASTQ_INLINE void fwindow_block(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y,
                                std::ptrdiff_t iy, std::size_t kh0, std::size_t kh1, std::size_t ox, std::size_t kw0,
                                std::size_t kw1, std::size_t c0) {
  constexpr std::size_t R = M < fconv_rows(NV) ? M : fconv_rows(NV);
  for (std::size_t p = 0; p + R <= M; p += R)
    fwindow_tile<Op, R, NV>(x, w, g, e, y, iy, kh0, kh1, ox + p, kw0, kw1, c0);
  if constexpr (M % R != 0) fwindow_tile<Op, M % R, NV>(x, w, g, e, y, iy, kh0, kh1, ox + M - M % R, kw0, kw1, c0);
}

// M pixels from ox, every channel: chunks of kFconvVecs vectors, then one narrower chunk, then
// the tail channels one lane at a time.
template <class Op, std::size_t M>
__attribute__((noinline)) void fwindow_span(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e,
                                            float* y, std::ptrdiff_t iy, std::size_t kh0, std::size_t kh1,
                                            std::size_t ox, std::size_t kw0, std::size_t kw1) {
  const std::size_t full = g.c / kFL * kFL;
  std::size_t c = 0;
  for (; c + kFconvVecs * kFL <= full; c += kFconvVecs * kFL)
    fwindow_block<Op, M, kFconvVecs>(x, w, g, e, y, iy, kh0, kh1, ox, kw0, kw1, c);
  const std::size_t nv = (full - c) / kFL;
  if constexpr (kFconvVecs > 3)
    if (nv == 3) fwindow_block<Op, M, 3>(x, w, g, e, y, iy, kh0, kh1, ox, kw0, kw1, c);
  if constexpr (kFconvVecs > 2)
    if (nv == 2) fwindow_block<Op, M, 2>(x, w, g, e, y, iy, kh0, kh1, ox, kw0, kw1, c);
  if constexpr (kFconvVecs > 1)
    if (nv == 1) fwindow_block<Op, M, 1>(x, w, g, e, y, iy, kh0, kh1, ox, kw0, kw1, c);
  if (full < g.c)
    for (std::size_t p = 0; p < M; ++p) fwindow_tail<Op>(x, w, g, e, y, iy, kh0, kh1, ox + p, kw0, kw1, full);
}

// Every channel of output pixels [ow0, ow1) of rows [r0, r1): interior pixels in spans of 12,
// then 4, 2, 1; border pixels one at a time with their own kw range.
template <class Op>
void fwindow(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y, std::size_t r0,
             std::size_t r1, std::size_t ow0, std::size_t ow1) {
  std::size_t ilo, ihi;
  finterior(g, &ilo, &ihi);
  const std::size_t lo = ilo > ow0 ? ilo : ow0, hi = ihi < ow1 ? ihi : ow1;
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t n = r / g.oh, oy = r % g.oh;
    const float* ximg = x + n * g.h * g.w * g.c;
    float* yrow = y + (n * g.oh + oy) * g.ow * g.o;
    const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy * g.sh) - static_cast<std::ptrdiff_t>(g.pt);
    std::size_t kh0, kh1;
    ftap_range(iy, g.dh, g.kh, g.h, &kh0, &kh1);
    auto single = [&](std::size_t ox) {
      std::size_t kw0, kw1;
      const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(ox * g.sw) - static_cast<std::ptrdiff_t>(g.pl);
      ftap_range(ix, g.dw, g.kw, g.w, &kw0, &kw1);
      fwindow_span<Op, 1>(ximg, w, g, e, yrow, iy, kh0, kh1, ox, kw0, kw1);
    };
    std::size_t ox = ow0;
    for (; ox < ow1 && ox < lo; ++ox) single(ox);
    for (; ox + 12 <= hi; ox += 12) fwindow_span<Op, 12>(ximg, w, g, e, yrow, iy, kh0, kh1, ox, 0, g.kw);
    for (; ox + 4 <= hi; ox += 4) fwindow_span<Op, 4>(ximg, w, g, e, yrow, iy, kh0, kh1, ox, 0, g.kw);
    for (; ox + 2 <= hi; ox += 2) fwindow_span<Op, 2>(ximg, w, g, e, yrow, iy, kh0, kh1, ox, 0, g.kw);
    for (; ox < ow1; ++ox) single(ox);
  }
}

inline void fdepthwise(const float* x, const float* w, const ConvGeom& g, const FloatEpilogue& e, float* y,
                       std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  fwindow<FDepthwiseOp>(x, w, g, e, y, r0, r1, c0, c1);
}
inline void fmax_pool(const float* x, const ConvGeom& g, bool relu, float* y, std::size_t r0, std::size_t r1,
                      std::size_t c0, std::size_t c1) {
  fwindow<FMaxOp>(x, nullptr, g, FloatEpilogue{nullptr, nullptr, relu}, y, r0, r1, c0, c1);
}
inline void favg_pool(const float* x, const ConvGeom& g, float* y, std::size_t r0, std::size_t r1, std::size_t c0,
                      std::size_t c1) {
  fwindow<FSumOp>(x, nullptr, g, FloatEpilogue{nullptr, nullptr, false}, y, r0, r1, c0, c1);
}

// ---- The fp32 FMA peak probe ----
// The conv kernel's inner step on registers only: kFconvVecs weight vectors, fconv_rows of them
// broadcast values, rows x vecs independent FMA chains (no loads, no stores). The chains never
// overflow or go subnormal for any practical iteration count (x * w + acc with x, w ~ 1e-3 and
// acc growing linearly). Timed by runtime/float_ops.cpp.
constexpr std::size_t kProbeFmaRows = fconv_rows(kFconvVecs);
constexpr std::uint64_t kProbeFlopsPerIter = 2 * kProbeFmaRows * kFconvVecs * kFL * 8;

inline double fma_probe(std::uint64_t iters, std::uint64_t seed) {
  constexpr std::size_t MR = kProbeFmaRows, NV = kFconvVecs;
  FV acc[MR][NV], a[MR], b[NV];
  const float s = static_cast<float>(seed % 1000) * 1e-6f;
#pragma GCC unroll 16
  for (std::size_t p = 0; p < MR; ++p) a[p] = FV::splat(1e-3f + s + static_cast<float>(p) * 1e-5f);
#pragma GCC unroll 16
  for (std::size_t v = 0; v < NV; ++v) b[v] = FV::splat(1e-3f + static_cast<float>(v) * 1e-5f);
#pragma GCC unroll 16
  for (std::size_t p = 0; p < MR; ++p)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) acc[p][v] = FV::splat(0.0f);
  for (std::uint64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int k = 0; k < 8; ++k)
#pragma GCC unroll 16
      for (std::size_t p = 0; p < MR; ++p)
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) acc[p][v] = fma(a[p], b[v], acc[p][v]);
  }
  double sum = 0;
  for (std::size_t p = 0; p < MR; ++p)
    for (std::size_t v = 0; v < NV; ++v) {
      float lanes[kFL];
      FV::store(lanes, acc[p][v]);
      for (float l : lanes) sum += l;
    }
  return sum;
}
