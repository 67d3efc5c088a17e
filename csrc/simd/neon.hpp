// NEON vocabulary (4 floats / 2 doubles), aarch64 only (NEON is part of the baseline there).
// Included inside namespace fastq::neon. Masks are all-ones/all-zeros lane vectors.

template <class T> struct Vec;
template <class T> struct Mask;

template <> struct Vec<float> {
  using Scalar = float;
  static constexpr std::size_t lanes = 4;
  float32x4_t v;
  static FASTQ_INLINE Vec load(const float* p) { return {vld1q_f32(p)}; }
  static FASTQ_INLINE void store(float* p, Vec a) { vst1q_f32(p, a.v); }
  // No non-temporal store intrinsic here: a plain store.
  static FASTQ_INLINE void stream(float* p, Vec a) { vst1q_f32(p, a.v); }
  static FASTQ_INLINE Vec splat(float a) { return {vdupq_n_f32(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 2;
  float64x2_t v;
  static FASTQ_INLINE Vec load(const double* p) { return {vld1q_f64(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { vst1q_f64(p, a.v); }
  static FASTQ_INLINE void stream(double* p, Vec a) { vst1q_f64(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {vdupq_n_f64(a)}; }
};
template <> struct Mask<float> { uint32x4_t m; };
template <> struct Mask<double> { uint64x2_t m; };

template <class V> FASTQ_INLINE void full_load(V&) {}  // no masked loads here (avx512.hpp)
FASTQ_INLINE void stream_fence() {}

using F = Vec<float>;
using D = Vec<double>;
using MF = Mask<float>;
using MD = Mask<double>;

FASTQ_INLINE F operator+(F a, F b) { return {vaddq_f32(a.v, b.v)}; }
FASTQ_INLINE F operator-(F a, F b) { return {vsubq_f32(a.v, b.v)}; }
FASTQ_INLINE F operator*(F a, F b) { return {vmulq_f32(a.v, b.v)}; }
FASTQ_INLINE F operator/(F a, F b) { return {vdivq_f32(a.v, b.v)}; }
FASTQ_INLINE F neg(F a) { return {vnegq_f32(a.v)}; }
FASTQ_INLINE F abs(F a) { return {vabsq_f32(a.v)}; }
// |a| with the sign bit of b (bit select: sign bit from b, the rest from a).
FASTQ_INLINE F copysign(F a, F b) { return {vbslq_f32(vdupq_n_u32(0x80000000u), b.v, a.v)}; }
FASTQ_INLINE MF lt(F a, F b) { return {vcltq_f32(a.v, b.v)}; }
FASTQ_INLINE MF le(F a, F b) { return {vcleq_f32(a.v, b.v)}; }
FASTQ_INLINE MF gt(F a, F b) { return {vcgtq_f32(a.v, b.v)}; }
FASTQ_INLINE MF ge(F a, F b) { return {vcgeq_f32(a.v, b.v)}; }
FASTQ_INLINE MF eq(F a, F b) { return {vceqq_f32(a.v, b.v)}; }
FASTQ_INLINE MF isnan(F a) { return {vmvnq_u32(vceqq_f32(a.v, a.v))}; }
FASTQ_INLINE MF operator&(MF a, MF b) { return {vandq_u32(a.m, b.m)}; }
FASTQ_INLINE MF operator|(MF a, MF b) { return {vorrq_u32(a.m, b.m)}; }
FASTQ_INLINE MF operator~(MF a) { return {vmvnq_u32(a.m)}; }
FASTQ_INLINE F select(MF m, F a, F b) { return {vbslq_f32(m.m, a.v, b.v)}; }
// a < lo ? lo : a (scalar.hpp), as a compare and select (FMAX would differ for NaN and -0).
FASTQ_INLINE F at_least(F a, F lo) { return {vbslq_f32(vcltq_f32(a.v, lo.v), lo.v, a.v)}; }
FASTQ_INLINE F round_even(F a) { return {vrndnq_f32(a.v)}; }
FASTQ_INLINE F pow2i(F n) {
  int32x4_t bits = vreinterpretq_s32_f32(vaddq_f32(n.v, vdupq_n_f32(12582912.0f)));
  bits = vshlq_n_s32(vaddq_s32(bits, vdupq_n_s32(127)), 23);
  return {vreinterpretq_f32_s32(bits)};
}

FASTQ_INLINE D operator+(D a, D b) { return {vaddq_f64(a.v, b.v)}; }
FASTQ_INLINE D operator-(D a, D b) { return {vsubq_f64(a.v, b.v)}; }
FASTQ_INLINE D operator*(D a, D b) { return {vmulq_f64(a.v, b.v)}; }
FASTQ_INLINE D operator/(D a, D b) { return {vdivq_f64(a.v, b.v)}; }
FASTQ_INLINE D neg(D a) { return {vnegq_f64(a.v)}; }
FASTQ_INLINE D abs(D a) { return {vabsq_f64(a.v)}; }
FASTQ_INLINE D copysign(D a, D b) { return {vbslq_f64(vdupq_n_u64(0x8000000000000000ull), b.v, a.v)}; }
FASTQ_INLINE MD lt(D a, D b) { return {vcltq_f64(a.v, b.v)}; }
FASTQ_INLINE MD le(D a, D b) { return {vcleq_f64(a.v, b.v)}; }
FASTQ_INLINE MD gt(D a, D b) { return {vcgtq_f64(a.v, b.v)}; }
FASTQ_INLINE MD ge(D a, D b) { return {vcgeq_f64(a.v, b.v)}; }
FASTQ_INLINE MD eq(D a, D b) { return {vceqq_f64(a.v, b.v)}; }
FASTQ_INLINE MD isnan(D a) { return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(a.v, a.v))))}; }
FASTQ_INLINE MD operator&(MD a, MD b) { return {vandq_u64(a.m, b.m)}; }
FASTQ_INLINE MD operator|(MD a, MD b) { return {vorrq_u64(a.m, b.m)}; }
FASTQ_INLINE MD operator~(MD a) { return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(a.m)))}; }
FASTQ_INLINE D select(MD m, D a, D b) { return {vbslq_f64(m.m, a.v, b.v)}; }
FASTQ_INLINE D at_least(D a, D lo) { return {vbslq_f64(vcltq_f64(a.v, lo.v), lo.v, a.v)}; }
FASTQ_INLINE D round_even(D a) { return {vrndnq_f64(a.v)}; }
FASTQ_INLINE D pow2i(D n) {
  int64x2_t bits = vreinterpretq_s64_f64(vaddq_f64(n.v, vdupq_n_f64(6755399441055744.0)));
  bits = vshlq_n_s64(vaddq_s64(bits, vdupq_n_s64(1023)), 52);
  return {vreinterpretq_f64_s64(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {vcvt_f64_f32(vld1_f32(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }

// ---- Packed bits (kernels/bitpack.hpp, kernels/bgemm.hpp, kernels/peak.hpp) ----
// Mask lane i -> bit i (lane 0 in the least significant bit): keep one weight per lane, add.
FASTQ_INLINE std::uint64_t to_bits(MF m) {
  static const std::uint32_t weights[4] = {1, 2, 4, 8};
  return vaddvq_u32(vandq_u32(m.m, vld1q_u32(weights)));
}
FASTQ_INLINE std::uint64_t to_bits(MD m) {
  static const std::uint64_t weights[2] = {1, 2};
  return vaddvq_u64(vandq_u64(m.m, vld1q_u64(weights)));
}

// A vector of 64-bit packed words.
struct Words {
  static constexpr std::size_t lanes = 2;
  uint64x2_t v;
  static FASTQ_INLINE Words load(const std::uint64_t* p) { return {vld1q_u64(p)}; }
  static FASTQ_INLINE void store(std::uint64_t* p, Words a) { vst1q_u64(p, a.v); }
  static FASTQ_INLINE Words splat(std::uint64_t a) { return {vdupq_n_u64(a)}; }
  static FASTQ_INLINE Words splat32(std::uint32_t a) { return {vreinterpretq_u64_u32(vdupq_n_u32(a))}; }
  static FASTQ_INLINE Words zero() { return {vdupq_n_u64(0)}; }
};
FASTQ_INLINE Words operator&(Words a, Words b) { return {vandq_u64(a.v, b.v)}; }
FASTQ_INLINE Words operator^(Words a, Words b) { return {veorq_u64(a.v, b.v)}; }
FASTQ_INLINE Words operator+(Words a, Words b) { return {vaddq_u64(a.v, b.v)}; }
FASTQ_INLINE Words operator-(Words a, Words b) { return {vsubq_u64(a.v, b.v)}; }
// Hide w's value from the compiler (kernels/peak.hpp): an empty asm that may change the register.
FASTQ_INLINE void opaque(Words& w) { __asm__ volatile("" : "+w"(w.v)); }
// Lanes (as int64) -> lanes int32 at p (truncating).
FASTQ_INLINE void store_i32(std::int32_t* p, Words a) { vst1_s32(p, vreinterpret_s32_u32(vmovn_u64(a.v))); }

// In-register transpose of lanes x lanes words (2x2 here).
FASTQ_INLINE void transpose(Words (&w)[2]) {
  const uint64x2_t a = vzip1q_u64(w[0].v, w[1].v), b = vzip2q_u64(w[0].v, w[1].v);
  w[0].v = a;
  w[1].v = b;
}

// Popcount-accumulate: VCNT counts each byte; byte counts add up for at most kPopSteps = 31
// steps (248 < 256), then pairwise widening adds (UADDLP) move them into 64-bit lane sums.
struct PopAcc {
  uint8x16_t v;
  static FASTQ_INLINE PopAcc zero() { return {vdupq_n_u8(0)}; }
};
constexpr std::size_t kPopSteps = 31;
FASTQ_INLINE PopAcc pop_add(PopAcc acc, Words x) { return {vaddq_u8(acc.v, vcntq_u8(vreinterpretq_u8_u64(x.v)))}; }
FASTQ_INLINE Words pop_widen(Words sum, PopAcc acc) {
  return {vaddq_u64(sum.v, vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(acc.v))))};
}
// The same in 32-bit lanes (bgemm.hpp's tap words): two pairwise widening adds.
using PopAcc32 = PopAcc;
constexpr std::size_t kPop32Steps = kPopSteps;
FASTQ_INLINE PopAcc32 pop_add32(PopAcc32 acc, Words x) { return pop_add(acc, x); }
FASTQ_INLINE Words pop_widen32(Words sum, PopAcc32 acc) {
  return {vreinterpretq_u64_u32(vaddq_u32(vreinterpretq_u32_u64(sum.v), vpaddlq_u16(vpaddlq_u8(acc.v))))};
}
// k - 2 * (32-bit lane j of count) -> p[j], 2 * lanes int32.
FASTQ_INLINE void store_dots32(std::int32_t* p, Words count, std::int32_t k) {
  const int32x4_t c = vreinterpretq_s32_u64(count.v);
  vst1q_s32(p, vsubq_s32(vdupq_n_s32(k), vaddq_s32(c, c)));
}

// Bits j < 4 of (uint32(d[j]) - uint32(lo[j]) <= span[j]) (bgemm.hpp's packed output).
constexpr std::size_t kSpanLanes = 4;
FASTQ_INLINE std::uint64_t in_span_bits(const std::int32_t* d, const std::int32_t* lo, const std::uint32_t* span) {
  static const std::uint32_t weights[4] = {1, 2, 4, 8};
  const uint32x4_t a = vsubq_u32(vreinterpretq_u32_s32(vld1q_s32(d)), vreinterpretq_u32_s32(vld1q_s32(lo)));
  return vaddvq_u32(vandq_u32(vcleq_u32(a, vld1q_u32(span)), vld1q_u32(weights)));
}

// bgemm register tile: 4 rows of A x 4 word vectors of B (8 columns): 16 byte accumulators of
// 32 q registers.
constexpr std::size_t kBgemmRows = 4;
constexpr std::size_t kBgemmVecs = 4;
// Peak probe tile (kernels/peak.hpp): its A rows live in registers (the GEMM loads them), so
// 4 x 2: 4 x 4 spills byte accumulators (GCC computes all 16 XORs first).
constexpr std::size_t kProbeRows = 4;
constexpr std::size_t kProbeVecs = 2;

// ---- Float layers (kernels/fconv.hpp, kernels/fpool.hpp) ----
// a * b + c with one rounding (FMLA: same bits as std::fma).
FASTQ_INLINE F fma(F a, F b, F c) { return {vfmaq_f32(c.v, a.v, b.v)}; }
// Conv register tile: up to 4 vectors (16 channels) x fconv_rows(nv) pixels of accumulators
// plus nv weight vectors and one broadcast, of 32 q registers.
constexpr std::size_t kFconvVecs = 4;
constexpr std::size_t fconv_rows(std::size_t nv) { return nv == 4 ? 6 : nv == 3 ? 8 : 12; }
