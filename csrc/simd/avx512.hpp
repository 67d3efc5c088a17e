// AVX-512 vocabulary (16 floats / 8 doubles): F + BW + VL + DQ + VPOPCNTDQ. Included inside
// namespace fastq::avx512, in a target region. Masks are k-registers.

template <class T> struct Vec;
template <class T> struct Mask;

template <> struct Vec<float> {
  using Scalar = float;
  static constexpr std::size_t lanes = 16;
  __m512 v;
  static FASTQ_INLINE Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static FASTQ_INLINE void store(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }
  // Non-temporal store (p aligned to sizeof(Vec)): bypasses the caches; stream_fence() after.
  static FASTQ_INLINE void stream(float* p, Vec a) { _mm512_stream_ps(p, a.v); }
  static FASTQ_INLINE Vec splat(float a) { return {_mm512_set1_ps(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 8;
  __m512d v;
  static FASTQ_INLINE Vec load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { _mm512_storeu_pd(p, a.v); }
  static FASTQ_INLINE void stream(double* p, Vec a) { _mm512_stream_pd(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {_mm512_set1_pd(a)}; }
};
template <> struct Mask<float> { __mmask16 m; };
template <> struct Mask<double> { __mmask8 m; };

// Orders earlier non-temporal stores before later stores (other threads then see them).
FASTQ_INLINE void stream_fence() { _mm_sfence(); }

using F = Vec<float>;
using D = Vec<double>;
using MF = Mask<float>;
using MD = Mask<double>;

// A loaded vector stays a full-width load: GCC would fold select(m, load(p), 0) into a masked
// load, which streams from memory ~1.5x slower on Zen 4 (1.6e7 floats: 4.3 ms -> 2.9 ms).
FASTQ_INLINE void full_load(F& a) { __asm__("" : "+v"(a.v)); }
FASTQ_INLINE void full_load(D& a) { __asm__("" : "+v"(a.v)); }

FASTQ_INLINE F operator+(F a, F b) { return {_mm512_add_ps(a.v, b.v)}; }
FASTQ_INLINE F operator-(F a, F b) { return {_mm512_sub_ps(a.v, b.v)}; }
FASTQ_INLINE F operator*(F a, F b) { return {_mm512_mul_ps(a.v, b.v)}; }
FASTQ_INLINE F operator/(F a, F b) { return {_mm512_div_ps(a.v, b.v)}; }
FASTQ_INLINE F neg(F a) {
  return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN)))};
}
FASTQ_INLINE F abs(F a) { return {_mm512_abs_ps(a.v)}; }
// |a| with the sign bit of b.
FASTQ_INLINE F copysign(F a, F b) {
  const __m512 s = _mm512_set1_ps(-0.0f);
  return {_mm512_or_ps(_mm512_andnot_ps(s, a.v), _mm512_and_ps(s, b.v))};
}
FASTQ_INLINE MF lt(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
FASTQ_INLINE MF le(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
FASTQ_INLINE MF gt(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
FASTQ_INLINE MF ge(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
FASTQ_INLINE MF eq(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
FASTQ_INLINE MF isnan(F a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
FASTQ_INLINE MF operator&(MF a, MF b) { return {static_cast<__mmask16>(a.m & b.m)}; }
FASTQ_INLINE MF operator|(MF a, MF b) { return {static_cast<__mmask16>(a.m | b.m)}; }
FASTQ_INLINE MF operator~(MF a) { return {static_cast<__mmask16>(~a.m)}; }
FASTQ_INLINE F select(MF m, F a, F b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }
// a < lo ? lo : a (scalar.hpp). MAXPS(x, y) = x > y ? x : y, so y = a when a is NaN.
FASTQ_INLINE F at_least(F a, F lo) { return {_mm512_max_ps(lo.v, a.v)}; }
FASTQ_INLINE F round_even(F a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE F pow2i(F n) {
  __m512i bits = _mm512_castps_si512(_mm512_add_ps(n.v, _mm512_set1_ps(12582912.0f)));
  bits = _mm512_slli_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(127)), 23);
  return {_mm512_castsi512_ps(bits)};
}

FASTQ_INLINE D operator+(D a, D b) { return {_mm512_add_pd(a.v, b.v)}; }
FASTQ_INLINE D operator-(D a, D b) { return {_mm512_sub_pd(a.v, b.v)}; }
FASTQ_INLINE D operator*(D a, D b) { return {_mm512_mul_pd(a.v, b.v)}; }
FASTQ_INLINE D operator/(D a, D b) { return {_mm512_div_pd(a.v, b.v)}; }
FASTQ_INLINE D neg(D a) {
  return {_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(INT64_MIN)))};
}
FASTQ_INLINE D abs(D a) { return {_mm512_abs_pd(a.v)}; }
FASTQ_INLINE D copysign(D a, D b) {
  const __m512d s = _mm512_set1_pd(-0.0);
  return {_mm512_or_pd(_mm512_andnot_pd(s, a.v), _mm512_and_pd(s, b.v))};
}
FASTQ_INLINE MD lt(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
FASTQ_INLINE MD le(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ)}; }
FASTQ_INLINE MD gt(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
FASTQ_INLINE MD ge(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GE_OQ)}; }
FASTQ_INLINE MD eq(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
FASTQ_INLINE MD isnan(D a) { return {_mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q)}; }
FASTQ_INLINE MD operator&(MD a, MD b) { return {static_cast<__mmask8>(a.m & b.m)}; }
FASTQ_INLINE MD operator|(MD a, MD b) { return {static_cast<__mmask8>(a.m | b.m)}; }
FASTQ_INLINE MD operator~(MD a) { return {static_cast<__mmask8>(~a.m)}; }
FASTQ_INLINE D select(MD m, D a, D b) { return {_mm512_mask_blend_pd(m.m, b.v, a.v)}; }
FASTQ_INLINE D at_least(D a, D lo) { return {_mm512_max_pd(lo.v, a.v)}; }
FASTQ_INLINE D round_even(D a) { return {_mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE D pow2i(D n) {
  __m512i bits = _mm512_castpd_si512(_mm512_add_pd(n.v, _mm512_set1_pd(6755399441055744.0)));
  bits = _mm512_slli_epi64(_mm512_add_epi64(bits, _mm512_set1_epi64(1023)), 52);
  return {_mm512_castsi512_pd(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }

// ---- Packed bits (kernels/bitpack.hpp, kernels/bgemm.hpp, kernels/peak.hpp) ----
// Mask lane i -> bit i (lane 0 in the least significant bit).
FASTQ_INLINE std::uint64_t to_bits(MF m) { return m.m; }
FASTQ_INLINE std::uint64_t to_bits(MD m) { return m.m; }

// A vector of 64-bit packed words.
struct Words {
  static constexpr std::size_t lanes = 8;
  __m512i v;
  static FASTQ_INLINE Words load(const std::uint64_t* p) { return {_mm512_loadu_si512(p)}; }
  static FASTQ_INLINE void store(std::uint64_t* p, Words a) { _mm512_storeu_si512(p, a.v); }
  static FASTQ_INLINE Words splat(std::uint64_t a) { return {_mm512_set1_epi64(static_cast<long long>(a))}; }
  static FASTQ_INLINE Words splat32(std::uint32_t a) { return {_mm512_set1_epi32(static_cast<int>(a))}; }
  static FASTQ_INLINE Words zero() { return {_mm512_setzero_si512()}; }
};
FASTQ_INLINE Words operator&(Words a, Words b) { return {_mm512_and_si512(a.v, b.v)}; }
FASTQ_INLINE Words operator^(Words a, Words b) { return {_mm512_xor_si512(a.v, b.v)}; }
FASTQ_INLINE Words operator+(Words a, Words b) { return {_mm512_add_epi64(a.v, b.v)}; }
FASTQ_INLINE Words operator-(Words a, Words b) { return {_mm512_sub_epi64(a.v, b.v)}; }
// Hide w's value from the compiler (kernels/peak.hpp): an empty asm that may change the register.
FASTQ_INLINE void opaque(Words& w) { __asm__ volatile("" : "+v"(w.v)); }
// Lanes (as int64) -> lanes int32 at p (truncating).
FASTQ_INLINE void store_i32(std::int32_t* p, Words a) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi64_epi32(a.v));
}

// In-register transpose of lanes x lanes words: w[r] lane c <-> w[c] lane r (8x8 here).
FASTQ_INLINE void transpose(Words (&w)[8]) {
  __m512i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {  // 2x2 blocks of words
    t[i] = _mm512_unpacklo_epi64(w[i].v, w[i + 1].v);
    t[i + 1] = _mm512_unpackhi_epi64(w[i].v, w[i + 1].v);
  }
  for (int i = 0; i < 8; i += 4)  // 2x2 blocks of 128-bit pairs
    for (int j = 0; j < 2; ++j) {
      u[i + j] = _mm512_shuffle_i64x2(t[i + j], t[i + j + 2], 0x88);      // pairs 0, 2 of each
      u[i + j + 2] = _mm512_shuffle_i64x2(t[i + j], t[i + j + 2], 0xdd);  // pairs 1, 3 of each
    }
  for (int j = 0; j < 4; ++j) {  // 256-bit halves
    w[j].v = _mm512_shuffle_i64x2(u[j], u[j + 4], 0x88);
    w[j + 4].v = _mm512_shuffle_i64x2(u[j], u[j + 4], 0xdd);
  }
}

// Popcount-accumulate: VPOPCNTQ counts each 64-bit lane exactly, so the running counts need no
// widening (kPopSteps = 0: any number of steps between pop_widen calls).
using PopAcc = Words;
constexpr std::size_t kPopSteps = 0;
FASTQ_INLINE PopAcc pop_add(PopAcc acc, Words x) { return {_mm512_add_epi64(acc.v, _mm512_popcnt_epi64(x.v))}; }
// sum (64-bit lane counts) + acc.
FASTQ_INLINE Words pop_widen(Words sum, PopAcc acc) { return sum + acc; }
// The same in 32-bit lanes (bgemm.hpp's tap words): VPOPCNTD, exact, no widening.
using PopAcc32 = Words;
constexpr std::size_t kPop32Steps = 0;
FASTQ_INLINE PopAcc32 pop_add32(PopAcc32 acc, Words x) { return {_mm512_add_epi32(acc.v, _mm512_popcnt_epi32(x.v))}; }
FASTQ_INLINE Words pop_widen32(Words sum, PopAcc32 acc) { return {_mm512_add_epi32(sum.v, acc.v)}; }
// k - 2 * (32-bit lane j of count) -> p[j], 2 * lanes int32.
FASTQ_INLINE void store_dots32(std::int32_t* p, Words count, std::int32_t k) {
  _mm512_storeu_si512(p, _mm512_sub_epi32(_mm512_set1_epi32(k), _mm512_add_epi32(count.v, count.v)));
}

// Bits j < 16 of (uint32(d[j]) - uint32(lo[j]) <= span[j]) (bgemm.hpp's packed output).
constexpr std::size_t kSpanLanes = 16;
FASTQ_INLINE std::uint64_t in_span_bits(const std::int32_t* d, const std::int32_t* lo, const std::uint32_t* span) {
  const __m512i a = _mm512_sub_epi32(_mm512_loadu_si512(d), _mm512_loadu_si512(lo));
  return _mm512_cmple_epu32_mask(a, _mm512_loadu_si512(span));
}

// bgemm register tile: kBgemmRows rows of A x kBgemmVecs word vectors of B (4 x 32 columns):
// 16 accumulators + 4 B vectors + 1 broadcast of 32 zmm.
constexpr std::size_t kBgemmRows = 4;
constexpr std::size_t kBgemmVecs = 4;
// Peak probe tile (kernels/peak.hpp): the GEMM's; its 4 A rows stay in registers too (24 zmm).
constexpr std::size_t kProbeRows = kBgemmRows;
constexpr std::size_t kProbeVecs = kBgemmVecs;

// ---- Float layers (kernels/fconv.hpp, kernels/fpool.hpp) ----
// a * b + c with one rounding (VFMADD: same bits as std::fma).
FASTQ_INLINE F fma(F a, F b, F c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
// Conv register tile: up to 4 vectors (64 channels) x fconv_rows(nv) pixels of accumulators
// plus nv weight vectors (broadcasts are memory operands): 28-29 of 32 zmm.
constexpr std::size_t kFconvVecs = 4;
constexpr std::size_t fconv_rows(std::size_t nv) { return nv == 4 ? 6 : nv == 3 ? 8 : 12; }

// ---- Two pixels per vector (kernels/fconv.hpp, convolutions with at most 8 output channels) ----
#define FASTQ_FCONV_PAIRS 1
// Lane indices for pair_lanes: lanes [0, 8) take lane i of the source, lanes [8, 16) lane j.
struct PairIndex { __m512i v; };
FASTQ_INLINE PairIndex pair_index(std::size_t i, std::size_t j) {
  const __m512i lo = _mm512_set1_epi32(static_cast<int>(i)), hi = _mm512_set1_epi32(static_cast<int>(j));
  return {_mm512_mask_blend_epi32(0xff00, lo, hi)};
}
// Both indices + 1.
FASTQ_INLINE PairIndex next_lane(PairIndex a) { return {_mm512_add_epi32(a.v, _mm512_set1_epi32(1))}; }
FASTQ_INLINE F pair_lanes(F a, PairIndex idx) { return {_mm512_permutexvar_ps(idx.v, a.v)}; }
// The first n <= 16 floats at p, zeros after (a masked load: nothing past p + n is read).
FASTQ_INLINE F load_first(const float* p, std::size_t n) {
  return {_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p)};
}
// The 8 floats at p in both halves.
FASTQ_INLINE F load_both_halves(const float* p) { return {_mm512_broadcast_f32x8(_mm256_loadu_ps(p))}; }
// The first n <= 8 lanes of each half: the low half's at lo, the high half's at hi.
FASTQ_INLINE void store_halves(float* lo, float* hi, F a, std::size_t n) {
  if (n == 8 && hi == lo + 8) {
    _mm512_storeu_ps(lo, a.v);
    return;
  }
  const __mmask8 m = static_cast<__mmask8>((1u << n) - 1);
  _mm256_mask_storeu_ps(lo, m, _mm512_castps512_ps256(a.v));
  _mm256_mask_storeu_ps(hi, m, _mm512_extractf32x8_ps(a.v, 1));
}
