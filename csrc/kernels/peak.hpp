// The xor + popcount peak probe (generic code): the yardstick binary GEMM rates are reported
// against (fraction of peak). It runs the GEMM's inner step - XOR a Words vector of A with one
// of B, pop_add into a PopAcc, pop_widen every kPopSteps steps - exactly as bgemm.hpp does, with
// this ISA's primitives, but on registers only (no loads, no stores) with kProbeRows x
// kProbeVecs independent accumulators (csrc/simd/<isa>.hpp: the GEMM's tile where its A rows
// also fit in registers, a smaller one where they do not). So its rate is the arithmetic
// limit of the GEMM's own popcount method on one core (on AVX2 that is the nibble lookup).
//
// Nothing can be optimised away: A and B derive from the seed, opaque() hides the A vectors
// from the compiler after every step (so no XOR or count is loop-invariant), and every count is
// summed into the returned checksum. No timing here (baseline code times it:
// runtime/bgemm_ops.cpp), so no std::chrono is instantiated inside a target region.

// Steps per iteration: one widening period (kPopSteps), or 1 when the counts never need
// widening (then they are widened once, at the end).
constexpr std::size_t kProbeSteps = kPopSteps == 0 ? 1 : kPopSteps;
// Binary MACs (bits of XOR) per iteration of popcount_probe.
constexpr std::uint64_t kProbeMacsPerIter = kProbeRows * kProbeVecs * Words::lanes * 64 * kProbeSteps;

inline std::uint64_t popcount_probe(std::uint64_t iters, std::uint64_t seed) {
  constexpr std::size_t MR = kProbeRows, NV = kProbeVecs;
  Words a[MR], b[NV], sum = Words::zero();  // one widened total: fewer live registers
  PopAcc acc[MR][NV];
  auto next = [&seed]() {  // splitmix64: well-mixed words even for small seeds
    std::uint64_t z = seed += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  };
#pragma GCC unroll 16
  for (std::size_t i = 0; i < MR; ++i) a[i] = Words::splat(next());
#pragma GCC unroll 16
  for (std::size_t v = 0; v < NV; ++v) b[v] = Words::splat(next());
#pragma GCC unroll 16
  for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < NV; ++v) acc[i][v] = PopAcc::zero();
  for (std::uint64_t it = 0; it < iters; ++it) {
    for (std::size_t s = 0; s < kProbeSteps; ++s) {
#pragma GCC unroll 16
      for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) acc[i][v] = pop_add(acc[i][v], a[i] ^ b[v]);
#pragma GCC unroll 16
      for (std::size_t i = 0; i < MR; ++i) opaque(a[i]);
    }
    if constexpr (kPopSteps != 0) {
#pragma GCC unroll 16
      for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) {
          sum = pop_widen(sum, acc[i][v]);
          acc[i][v] = PopAcc::zero();
        }
    }
  }
  if constexpr (kPopSteps == 0) {
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (std::size_t v = 0; v < NV; ++v) sum = pop_widen(sum, acc[i][v]);
  }
  std::uint64_t lanes[Words::lanes];
  Words::store(lanes, sum);
  std::uint64_t r = 0;
  for (std::uint64_t x : lanes) r += x;
  return r;
}
