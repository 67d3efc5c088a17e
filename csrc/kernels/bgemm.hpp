// Binary GEMM (generic code): dot(a_i, b_j) = k - 2 * popcount(a_i XOR b_j) over the packed
// rows of A and B (padding bits are zero in both, so they XOR to 0 and the true k corrects
// the count).
//
// Outer-product register tile (BLAS style): B is in the blocked layout of
// fastq/kernel_table.hpp, so one vector load gives word w of `lanes` consecutive columns. Each
// step w broadcasts word w of kBgemmRows rows of A, XORs it with kBgemmVecs vectors of B and
// popcount-accumulates into kBgemmRows x kBgemmVecs accumulators held in registers: per word
// pair one XOR, one popcount, one add, no horizontal reduction and no K tail (K granularity is
// one word). Tile sizes and the popcount primitive are per ISA (csrc/simd/<isa>.hpp).

constexpr std::size_t kTileCols = kBgemmVecs * Words::lanes;
static_assert(kTileCols % kBinaryBlock == 0 && 64 % kTileCols == 0, "tile columns: whole blocks that divide 64");

// The A operand's layout, shared by the rows of a tile: row i's packed row is the concatenation
// of n segments of `words` words, segment s at rows[i] + off[s]. A GEMM's rows are one segment;
// a convolution's row is its window in the padded input, one segment per tap row (or per tap).
struct Segments {
  const std::size_t* off;
  std::size_t n, words;
  FASTQ_INLINE std::size_t total() const { return n * words; }  // words per row
};

// dots[i * ld + c] = k - 2 * popcount(a_i XOR b_c) (the +-1 dot product, int32) for the MR rows
// of A at rows[0 .. MR) and the first NV vectors of the panel (NV * lanes columns).
template <std::size_t MR, std::size_t NV, class SG>
FASTQ_INLINE void tile_dots(const std::uint64_t* const* rows, const SG& sg, const std::uint64_t* panel, std::size_t k,
                            std::int32_t* dots, std::size_t ld) {
  constexpr std::size_t L = Words::lanes, per_block = kBinaryBlock / L;
  const std::size_t kw = sg.total();
  const std::uint64_t* bp[NV];
  for (std::size_t v = 0; v < NV; ++v) bp[v] = panel + (v / per_block) * kw * kBinaryBlock + (v % per_block) * L;
  Words sum[MR][NV];
  PopAcc acc[MR][NV];
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) sum[i][v] = Words::zero(), acc[i][v] = PopAcc::zero();
  // Narrow counters (kPopSteps != 0) widen into sum every kPopSteps words, across segments.
  auto widen = [&]() __attribute__((always_inline)) {
    for (std::size_t i = 0; i < MR; ++i)
      for (std::size_t v = 0; v < NV; ++v) sum[i][v] = pop_widen(sum[i][v], acc[i][v]), acc[i][v] = PopAcc::zero();
  };
  std::size_t w = 0, since = 0;
  // Word w of the row: a_word(i) is row i's word.
  auto step = [&](auto a_word) __attribute__((always_inline)) {
    Words b[NV];
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) b[v] = Words::load(bp[v] + w * kBinaryBlock);
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) {
      const Words ai = Words::splat(a_word(i));
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = pop_add(acc[i][v], ai ^ b[v]);
    }
    ++w;
    if constexpr (kPopSteps != 0) {
      if (++since == kPopSteps) widen(), since = 0;
    }
  };
  for (std::size_t s = 0; s < sg.n; ++s) {
    const std::uint64_t* a[MR];
    for (std::size_t i = 0; i < MR; ++i) a[i] = rows[i] + sg.off[s];
    for (std::size_t w2 = 0; w2 < sg.words; ++w2)
      step([&](std::size_t i) __attribute__((always_inline)) { return a[i][w2]; });
  }
  widen();
  const Words kv = Words::splat(k);
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) store_i32(dots + i * ld + v * L, kv - (sum[i][v] + sum[i][v]));
}

// ---- Tap words (a convolution with one group of at most 32 channels: conv_tap_words) ----
// A vector holds kTapLanes 32-bit weight words of consecutive output channels (a piece of a
// block of kTapBlock, fastq/kernel_table.hpp); each step broadcasts one tap's word (the low half
// of rows[i][off[t]]) to every 32-bit lane, XORs and counts in 32-bit lanes.
constexpr std::size_t kTapLanes = 2 * Words::lanes;
constexpr std::size_t kTapVecs = kTileCols / kTapLanes;
static_assert(kTileCols % kTapLanes == 0 && kTapBlock % kTapLanes == 0, "tap-word vectors: whole pieces of blocks");

// dots[i * ld + c] for the MR rows at rows[0 .. MR) and the NV * kTapLanes output channels from
// col0 of the tap-word weights w (taps taps at offsets off).
template <std::size_t MR, std::size_t NV>
FASTQ_INLINE void tile_dots32(const std::uint64_t* const* rows, const std::size_t* off, std::size_t taps,
                              const std::uint64_t* w, std::size_t col0, std::size_t k, std::int32_t* dots,
                              std::size_t ld) {
  constexpr std::size_t half = kTapBlock / 2;  // words per tap of a block
  const std::uint64_t* bp[NV];
  for (std::size_t v = 0; v < NV; ++v) {
    const std::size_t c = col0 + v * kTapLanes;
    bp[v] = w + (c / kTapBlock) * taps * half + (c % kTapBlock) / 2;
  }
  Words sum[MR][NV];
  PopAcc32 acc[MR][NV];
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) sum[i][v] = Words::zero(), acc[i][v] = PopAcc32::zero();
  auto widen = [&]() __attribute__((always_inline)) {
    for (std::size_t i = 0; i < MR; ++i)
      for (std::size_t v = 0; v < NV; ++v) sum[i][v] = pop_widen32(sum[i][v], acc[i][v]), acc[i][v] = PopAcc32::zero();
  };
  std::size_t since = 0;
  auto step = [&](std::size_t t) __attribute__((always_inline)) {
    Words b[NV];
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) b[v] = Words::load(bp[v] + t * half);
    const std::size_t o = off[t];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) {
      const Words ai = Words::splat32(static_cast<std::uint32_t>(rows[i][o]));
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = pop_add32(acc[i][v], ai ^ b[v]);
    }
    if constexpr (kPop32Steps != 0) {
      if (++since == kPop32Steps) widen(), since = 0;
    }
  };
  if (taps == 9) {  // 3 x 3, the common window: unrolled
#pragma GCC unroll 9
    for (std::size_t t = 0; t < 9; ++t) step(t);
  } else {
    for (std::size_t t = 0; t < taps; ++t) step(t);
  }
  widen();
  const auto kk = static_cast<std::int32_t>(k);
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) store_dots32(dots + i * ld + v * kTapLanes, sum[i][v], kk);
}

using TapTileFn = void (*)(const std::uint64_t* const*, const std::size_t*, std::size_t, const std::uint64_t*,
                           std::size_t, std::size_t, std::int32_t*, std::size_t);
template <std::size_t MR, std::size_t NV>
void tap_edge_tile(const std::uint64_t* const* rows, const std::size_t* off, std::size_t taps, const std::uint64_t* w,
                   std::size_t col0, std::size_t k, std::int32_t* dots, std::size_t ld) {
  tile_dots32<MR, NV>(rows, off, taps, w, col0, k, dots, ld);
}
// The tap-word tile function for a partial tile of `rows` rows and `nv` vectors.
template <std::size_t MR, std::size_t NV> TapTileFn tap_edge_tile_for(std::size_t rows, std::size_t nv) {
  if constexpr (MR > 1)
    if (rows < MR) return tap_edge_tile_for<MR - 1, NV>(rows, nv);
  if constexpr (NV > 1)
    if (nv < NV) return tap_edge_tile_for<MR, NV - 1>(rows, nv);
  return &tap_edge_tile<MR, NV>;
}

template <class SG>
using TileFn = void (*)(const std::uint64_t* const*, const SG&, const std::uint64_t*, std::size_t, std::int32_t*,
                        std::size_t);

template <std::size_t MR, std::size_t Blocks, class SG>
void edge_tile(const std::uint64_t* const* rows, const SG& sg, const std::uint64_t* panel, std::size_t k,
               std::int32_t* dots, std::size_t ld) {
  tile_dots<MR, Blocks * kBinaryBlock / Words::lanes>(rows, sg, panel, k, dots, ld);
}

// The tile function for a partial tile of `rows` rows and `blocks` blocks of columns.
template <std::size_t MR, std::size_t Blocks, class SG> TileFn<SG> edge_tile_for(std::size_t rows, std::size_t blocks) {
  if constexpr (MR > 1)
    if (rows < MR) return edge_tile_for<MR - 1, Blocks, SG>(rows, blocks);
  if constexpr (Blocks > 1)
    if (blocks < Blocks) return edge_tile_for<MR, Blocks - 1, SG>(rows, blocks);
  return &edge_tile<MR, Blocks, SG>;
}

// A operands: m rows of k bits; row(r) is where row r's segments start.
struct RowsA {  // packed rows, one segment each (PackedRows)
  const std::uint64_t* words;
  std::size_t m, k, kw, zero;
  FASTQ_INLINE const std::uint64_t* row(std::size_t r) const { return words + r * kw; }
  FASTQ_INLINE Segments segments() const { return {&zero, 1, kw}; }
};
template <class SG> struct WindowsA {  // a convolution's windows (bconv.hpp): a pointer per row, shared segments
  const std::uint64_t* const* rows;
  std::size_t m, k;
  SG sg;
  FASTQ_INLINE const std::uint64_t* row(std::size_t r) const { return rows[r]; }
  FASTQ_INLINE SG segments() const { return sg; }
};

// ---- Output transforms (fastq/kernel_table.hpp, BinaryOut): one type per kind ----
// row(d, nc, r, col0): nc dot products d of output row r, columns col0 .. col0 + nc - 1.
struct DotsOut {
  std::int32_t* c;
  std::size_t ld;
  static constexpr bool direct = true;  // tile_dots may write straight into c
  FASTQ_INLINE void row(const std::int32_t* __restrict d, std::size_t nc, std::size_t r, std::size_t col0) const {
    std::int32_t* __restrict dst = c + r * ld + col0;
    for (std::size_t j = 0; j < nc; ++j) dst[j] = d[j];
  }
};
template <bool Relu, bool Residual> struct AffineOut {
  float* y;
  std::size_t ld;
  const float* scale;
  const float* bias;
  const float* res;  // Residual: same layout as y
  static constexpr bool direct = false;
  FASTQ_INLINE void row(const std::int32_t* __restrict d, std::size_t nc, std::size_t r, std::size_t col0) const {
    float* dst = y + r * ld + col0;  // may be res itself (element j read before it is written)
    const float* __restrict s = scale + col0;
    const float* __restrict b = bias + col0;
    const float* rr = Residual ? res + r * ld + col0 : nullptr;
    for (std::size_t j = 0; j < nc; ++j) {
      const std::int32_t v = Relu ? (d[j] > 0 ? d[j] : 0) : d[j];
      const float p = static_cast<float>(v) * s[j];  // rounded here (no FMA: -ffp-contract=off)
      const float q = p + b[j];
      dst[j] = Residual ? q + rr[j] : q;
    }
  }
};
struct SignsOut {
  std::uint64_t* bits;
  std::size_t ld;
  const std::int32_t* lo;
  const std::uint32_t* span;
  static constexpr bool direct = false;
  // nc <= 64 columns; col0 may sit anywhere in a word (grouped convolutions), so the bits may
  // straddle two words.
  FASTQ_INLINE void row(const std::int32_t* __restrict d, std::size_t nc, std::size_t r, std::size_t col0) const {
    const std::int32_t* __restrict l = lo + col0;
    const std::uint32_t* __restrict s = span + col0;
    std::uint64_t w = 0;
    std::size_t j = 0;
    for (; j + kSpanLanes <= nc; j += kSpanLanes) w |= in_span_bits(d + j, l + j, s + j) << j;
    for (; j < nc; ++j)
      w |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(d[j]) - static_cast<std::uint32_t>(l[j]) <= s[j]) << j;
    std::uint64_t* dst = bits + r * ld + col0 / 64;
    const std::size_t shift = col0 % 64;
    dst[0] |= w << shift;
    if (shift && shift + nc > 64) dst[1] |= w >> (64 - shift);
  }
};
// A correction of the dot products before the output transform (conv's pad_values = 0).
struct NoFix {
  static constexpr bool none = true;
  FASTQ_INLINE void apply(std::int32_t*, std::size_t, std::size_t, std::size_t, std::size_t) const {}
};

// The output transform of one tile: mr x nc dot products from tile (row stride kTileCols).
// Rows and NC, when not 0, fix mr and nc at compile time, so the loops compile to a few vector
// instructions per row.
template <std::size_t Rows, std::size_t NC, class Out, class Fix>
FASTQ_INLINE void tile_out(std::int32_t* tile, std::size_t mr, std::size_t nc, const Out& out, const Fix& fix,
                           std::size_t row0, std::size_t col0) {
  if constexpr (Rows != 0) mr = Rows;
  if constexpr (NC != 0) nc = NC;
  fix.apply(tile, mr, nc, row0, col0);
  for (std::size_t i = 0; i < mr; ++i) out.row(tile + i * kTileCols, nc, row0 + i, col0);
}

// A tile of all kTileCols columns and mr <= R rows: compiled for each row count, so the
// one-row case (a matrix-vector product) runs as tight a loop as a full tile. Dot products go
// straight into an int32 output, else through the tile buffer and the output transform.
template <std::size_t R, class Out, class Fix, class SG>
FASTQ_INLINE void full_width_tile(std::size_t mr, const std::uint64_t* const* rows, const SG& sg,
                                  const std::uint64_t* panel, std::int32_t* tile, std::size_t k, const Out& out,
                                  const Fix& fix, std::size_t row0, std::size_t col0) {
  if constexpr (R > 1) {
    if (mr < R) return full_width_tile<R - 1>(mr, rows, sg, panel, tile, k, out, fix, row0, col0);
  }
  if constexpr (Out::direct && Fix::none) {
    tile_dots<R, kBgemmVecs>(rows, sg, panel, k, out.c + row0 * out.ld + col0, out.ld);
  } else {
    tile_dots<R, kBgemmVecs>(rows, sg, panel, k, tile, kTileCols);
    tile_out<R, kTileCols>(tile, R, kTileCols, out, fix, row0, col0);
  }
}

// A (m rows) against the n columns of b_blocked into out rows row0.., columns col0..: column
// panels outer (one panel of B stays in L1), register tiles of rows inner.
template <class A, class Out, class Fix>
void bgemm_typed(const A& a, const std::uint64_t* b_blocked, std::size_t n, const Out& out, const Fix& fix,
                 std::size_t row0, std::size_t col0) {
  constexpr std::size_t MR = kBgemmRows, Blocks = kTileCols / kBinaryBlock;
  alignas(64) std::int32_t tile[MR * kTileCols];
  const auto sg = a.segments();
  const std::size_t m = a.m, k = a.k, kw = sg.total();
  for (std::size_t c0 = 0; c0 < n; c0 += kTileCols) {
    const std::size_t nc = n - c0 < kTileCols ? n - c0 : kTileCols;
    const std::size_t blocks = (nc + kBinaryBlock - 1) / kBinaryBlock;
    const std::uint64_t* panel = b_blocked + (c0 / kBinaryBlock) * kw * kBinaryBlock;
    for (std::size_t r0 = 0; r0 < m; r0 += MR) {
      const std::size_t mr = m - r0 < MR ? m - r0 : MR;
      const std::uint64_t* rows[MR];
      for (std::size_t i = 0; i < mr; ++i) rows[i] = a.row(r0 + i);
      if (nc == kTileCols) {
        full_width_tile<MR>(mr, rows, sg, panel, tile, k, out, fix, row0 + r0, col0 + c0);
      } else {
        edge_tile_for<MR, Blocks, decltype(sg)>(mr, blocks)(rows, sg, panel, k, tile, kTileCols);
        tile_out<0, 0>(tile, mr, nc, out, fix, row0 + r0, col0 + c0);
      }
    }
  }
}

// Calls f(typed output transform): the one place a BinaryOut's kind is tested.
template <class F> FASTQ_INLINE void with_out(const BinaryOut& o, F&& f) {
  switch (o.kind) {
    case BinaryOutKind::dots:
      return f(DotsOut{static_cast<std::int32_t*>(o.data), o.ld});
    case BinaryOutKind::affine:
      if (o.residual) {
        if (o.relu) return f(AffineOut<true, true>{static_cast<float*>(o.data), o.ld, o.scale, o.bias, o.residual});
        return f(AffineOut<false, true>{static_cast<float*>(o.data), o.ld, o.scale, o.bias, o.residual});
      }
      if (o.relu) return f(AffineOut<true, false>{static_cast<float*>(o.data), o.ld, o.scale, o.bias, nullptr});
      return f(AffineOut<false, false>{static_cast<float*>(o.data), o.ld, o.scale, o.bias, nullptr});
    case BinaryOutKind::signs:
      return f(SignsOut{static_cast<std::uint64_t*>(o.data), o.ld, o.lo, o.span});
  }
}

inline void bgemm(const PackedRows& a, const std::uint64_t* b_blocked, std::size_t n, const BinaryOut& out,
                  std::size_t row0, std::size_t col0) {
  const RowsA rows{a.words, a.rows, a.k, a.kw, 0};
  with_out(out, [&](const auto& typed) { bgemm_typed(rows, b_blocked, n, typed, NoFix{}, row0, col0); });
}
