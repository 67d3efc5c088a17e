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

// dots[i * ld + c] = k - 2 * popcount(a_i XOR b_c) (the +-1 dot product, int32) for MR rows of
// a (kw words apart) and the first NV vectors of the panel (NV * lanes columns).
template <std::size_t MR, std::size_t NV>
FASTQ_INLINE void tile_dots(const std::uint64_t* a, std::size_t kw, const std::uint64_t* panel, std::size_t k,
                            std::int32_t* dots, std::size_t ld) {
  constexpr std::size_t L = Words::lanes, per_block = kBinaryBlock / L;
  const std::uint64_t* bp[NV];
  for (std::size_t v = 0; v < NV; ++v) bp[v] = panel + (v / per_block) * kw * kBinaryBlock + (v % per_block) * L;
  Words sum[MR][NV];
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) sum[i][v] = Words::zero();
  // Words k0 .. k1 - 1, counted in narrow accumulators (at most kPopSteps steps, 0 = any).
  auto steps = [&](std::size_t k0, std::size_t k1) __attribute__((always_inline)) {
    PopAcc acc[MR][NV];
    for (std::size_t i = 0; i < MR; ++i)
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = PopAcc::zero();
    for (std::size_t w = k0; w < k1; ++w) {
      Words b[NV];
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) b[v] = Words::load(bp[v] + w * kBinaryBlock);
#pragma GCC unroll 16
      for (std::size_t i = 0; i < MR; ++i) {
        const Words ai = Words::splat(a[i * kw + w]);
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) acc[i][v] = pop_add(acc[i][v], ai ^ b[v]);
      }
    }
    for (std::size_t i = 0; i < MR; ++i)
      for (std::size_t v = 0; v < NV; ++v) sum[i][v] = pop_widen(sum[i][v], acc[i][v]);
  };
  if constexpr (kPopSteps == 0) {
    steps(0, kw);
  } else {
    for (std::size_t k0 = 0; k0 < kw; k0 += kPopSteps) steps(k0, k0 + kPopSteps < kw ? k0 + kPopSteps : kw);
  }
  const Words kv = Words::splat(k);
  for (std::size_t i = 0; i < MR; ++i)
    for (std::size_t v = 0; v < NV; ++v) store_i32(dots + i * ld + v * L, kv - (sum[i][v] + sum[i][v]));
}

using TileFn = void (*)(const std::uint64_t*, std::size_t, const std::uint64_t*, std::size_t, std::int32_t*, std::size_t);

template <std::size_t MR, std::size_t Blocks>
void edge_tile(const std::uint64_t* a, std::size_t kw, const std::uint64_t* panel, std::size_t k, std::int32_t* dots,
               std::size_t ld) {
  tile_dots<MR, Blocks * kBinaryBlock / Words::lanes>(a, kw, panel, k, dots, ld);
}

// The tile function for a partial tile of `rows` rows and `blocks` blocks of columns.
template <std::size_t MR, std::size_t Blocks>
TileFn edge_tile_for(std::size_t rows, std::size_t blocks) {
  if constexpr (MR > 1)
    if (rows < MR) return edge_tile_for<MR - 1, Blocks>(rows, blocks);
  if constexpr (Blocks > 1)
    if (blocks < Blocks) return edge_tile_for<MR, Blocks - 1>(rows, blocks);
  return &edge_tile<MR, Blocks>;
}

// The output transform of one tile: mr x nc dot products from tile (row stride kTileCols) into
// out. Rows and NC, when not 0, fix mr and nc at compile time, so the loops compile to a few
// vector instructions per row.
template <std::size_t Rows, std::size_t NC>
FASTQ_INLINE void tile_out(const std::int32_t* __restrict tile, std::size_t mr, std::size_t nc, const BinaryOut& o,
                           std::size_t row0, std::size_t col0) {
  if constexpr (Rows != 0) mr = Rows;
  if constexpr (NC != 0) nc = NC;
  for (std::size_t i = 0; i < mr; ++i) {
    const std::int32_t* __restrict d = tile + i * kTileCols;
    if (o.dots) {
      std::int32_t* __restrict c = o.dots + (row0 + i) * o.ld + col0;
      for (std::size_t j = 0; j < nc; ++j) c[j] = d[j];
      continue;
    }
    float buf[kTileCols];
    float* __restrict y = o.y ? o.y + (row0 + i) * o.ld + col0 : buf;
    const float* __restrict scale = o.scale + col0;
    const float* __restrict bias = o.bias + col0;
    for (std::size_t j = 0; j < nc; ++j) y[j] = static_cast<float>(d[j]) * scale[j] + bias[j];
    if (o.bits) {
      std::uint64_t w;
      pack_row(buf, nc, &w);
      std::uint64_t* dst = o.bits + (row0 + i) * o.ld + col0 / 64;
      const std::size_t shift = col0 % 64;
      *dst = shift == 0 ? w : (*dst | (w << shift));
    }
  }
}

// A tile of all kTileCols columns and mr <= R rows: compiled for each row count, so the
// one-row case (a matrix-vector product) runs as tight a loop as a full tile. Dot products go
// straight into an int32 output, else through the tile buffer and the output transform.
template <std::size_t R>
FASTQ_INLINE void full_width_tile(std::size_t mr, const std::uint64_t* a, std::size_t kw, const std::uint64_t* panel,
                                  std::int32_t* tile, std::size_t k, const BinaryOut& out, std::size_t row0,
                                  std::size_t col0) {
  if constexpr (R > 1) {
    if (mr < R) return full_width_tile<R - 1>(mr, a, kw, panel, tile, k, out, row0, col0);
  }
  if (out.dots) {
    tile_dots<R, kBgemmVecs>(a, kw, panel, k, out.dots + row0 * out.ld + col0, out.ld);
  } else {
    tile_dots<R, kBgemmVecs>(a, kw, panel, k, tile, kTileCols);
    tile_out<R, kTileCols>(tile, R, kTileCols, out, row0, col0);
  }
}

inline void bgemm(const std::uint64_t* a, std::size_t m, const std::uint64_t* b_blocked, std::size_t n, std::size_t kw,
                  std::size_t k, const BinaryOut& out, std::size_t row0, std::size_t col0) {
  constexpr std::size_t MR = kBgemmRows, Blocks = kTileCols / kBinaryBlock;
  alignas(64) std::int32_t tile[MR * kTileCols];
  for (std::size_t c0 = 0; c0 < n; c0 += kTileCols) {
    const std::size_t nc = n - c0 < kTileCols ? n - c0 : kTileCols;
    const std::size_t blocks = (nc + kBinaryBlock - 1) / kBinaryBlock;
    const std::uint64_t* panel = b_blocked + (c0 / kBinaryBlock) * kw * kBinaryBlock;
    for (std::size_t r0 = 0; r0 < m; r0 += MR) {
      const std::size_t mr = m - r0 < MR ? m - r0 : MR;
      if (nc == kTileCols) {
        full_width_tile<MR>(mr, a + r0 * kw, kw, panel, tile, k, out, row0 + r0, col0 + c0);
      } else {
        edge_tile_for<MR, Blocks>(mr, blocks)(a + r0 * kw, kw, panel, k, tile, kTileCols);
        tile_out<0, 0>(tile, mr, nc, out, row0 + r0, col0 + c0);
      }
    }
  }
}

inline BinaryKernels make_binary_kernels() {
  BinaryKernels b{};
  b.tile_rows = kBgemmRows;
  b.tile_cols = kTileCols;
  b.pack_f32 = &pack_rows<float>;
  b.pack_f64 = &pack_rows<double>;
  b.unpack_f32 = &unpack_rows_f32;
  b.pack_blocked = &pack_blocked;
  b.gemm = &bgemm;
  b.popcount_probe = &popcount_probe;
  b.probe_macs_per_iter = kProbeMacsPerIter;
  return b;
}
