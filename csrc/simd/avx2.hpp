// AVX2 vocabulary (8 floats / 4 doubles). Included inside namespace fastq::avx2, in a target
// region with avx2,fma enabled. Masks are full-width vectors (compare results).

template <class T> struct Vec;
template <class T> struct Mask;

template <> struct Vec<float> {
  using Scalar = float;
  static constexpr std::size_t lanes = 8;
  __m256 v;
  static FASTQ_INLINE Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static FASTQ_INLINE void store(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }
  // Non-temporal store (p aligned to sizeof(Vec)): bypasses the caches; stream_fence() after.
  static FASTQ_INLINE void stream(float* p, Vec a) { _mm256_stream_ps(p, a.v); }
  static FASTQ_INLINE Vec splat(float a) { return {_mm256_set1_ps(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 4;
  __m256d v;
  static FASTQ_INLINE Vec load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { _mm256_storeu_pd(p, a.v); }
  static FASTQ_INLINE void stream(double* p, Vec a) { _mm256_stream_pd(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {_mm256_set1_pd(a)}; }
};
template <> struct Mask<float> { __m256 m; };
template <> struct Mask<double> { __m256d m; };

template <class V> FASTQ_INLINE void full_load(V&) {}  // no masked loads here (avx512.hpp)

// Orders earlier non-temporal stores before later stores (other threads then see them).
FASTQ_INLINE void stream_fence() { _mm_sfence(); }

using F = Vec<float>;
using D = Vec<double>;
using MF = Mask<float>;
using MD = Mask<double>;

FASTQ_INLINE F operator+(F a, F b) { return {_mm256_add_ps(a.v, b.v)}; }
FASTQ_INLINE F operator-(F a, F b) { return {_mm256_sub_ps(a.v, b.v)}; }
FASTQ_INLINE F operator*(F a, F b) { return {_mm256_mul_ps(a.v, b.v)}; }
FASTQ_INLINE F operator/(F a, F b) { return {_mm256_div_ps(a.v, b.v)}; }
FASTQ_INLINE F neg(F a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
FASTQ_INLINE F abs(F a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
// |a| with the sign bit of b.
FASTQ_INLINE F copysign(F a, F b) {
  const __m256 s = _mm256_set1_ps(-0.0f);
  return {_mm256_or_ps(_mm256_andnot_ps(s, a.v), _mm256_and_ps(s, b.v))};
}
FASTQ_INLINE MF lt(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
FASTQ_INLINE MF le(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
FASTQ_INLINE MF gt(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
FASTQ_INLINE MF ge(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
FASTQ_INLINE MF eq(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
FASTQ_INLINE MF isnan(F a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
FASTQ_INLINE MF operator&(MF a, MF b) { return {_mm256_and_ps(a.m, b.m)}; }
FASTQ_INLINE MF operator|(MF a, MF b) { return {_mm256_or_ps(a.m, b.m)}; }
FASTQ_INLINE MF operator~(MF a) { return {_mm256_xor_ps(a.m, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))}; }
FASTQ_INLINE F select(MF m, F a, F b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
// a < lo ? lo : a (scalar.hpp). MAXPS(x, y) = x > y ? x : y, so y = a when a is NaN.
FASTQ_INLINE F at_least(F a, F lo) { return {_mm256_max_ps(lo.v, a.v)}; }
FASTQ_INLINE F round_even(F a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE F pow2i(F n) {
  __m256i bits = _mm256_castps_si256(_mm256_add_ps(n.v, _mm256_set1_ps(12582912.0f)));
  bits = _mm256_slli_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(127)), 23);
  return {_mm256_castsi256_ps(bits)};
}

FASTQ_INLINE D operator+(D a, D b) { return {_mm256_add_pd(a.v, b.v)}; }
FASTQ_INLINE D operator-(D a, D b) { return {_mm256_sub_pd(a.v, b.v)}; }
FASTQ_INLINE D operator*(D a, D b) { return {_mm256_mul_pd(a.v, b.v)}; }
FASTQ_INLINE D operator/(D a, D b) { return {_mm256_div_pd(a.v, b.v)}; }
FASTQ_INLINE D neg(D a) { return {_mm256_xor_pd(a.v, _mm256_set1_pd(-0.0))}; }
FASTQ_INLINE D abs(D a) { return {_mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v)}; }
FASTQ_INLINE D copysign(D a, D b) {
  const __m256d s = _mm256_set1_pd(-0.0);
  return {_mm256_or_pd(_mm256_andnot_pd(s, a.v), _mm256_and_pd(s, b.v))};
}
FASTQ_INLINE MD lt(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
FASTQ_INLINE MD le(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
FASTQ_INLINE MD gt(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
FASTQ_INLINE MD ge(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GE_OQ)}; }
FASTQ_INLINE MD eq(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
FASTQ_INLINE MD isnan(D a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }
FASTQ_INLINE MD operator&(MD a, MD b) { return {_mm256_and_pd(a.m, b.m)}; }
FASTQ_INLINE MD operator|(MD a, MD b) { return {_mm256_or_pd(a.m, b.m)}; }
FASTQ_INLINE MD operator~(MD a) { return {_mm256_xor_pd(a.m, _mm256_castsi256_pd(_mm256_set1_epi32(-1)))}; }
FASTQ_INLINE D select(MD m, D a, D b) { return {_mm256_blendv_pd(b.v, a.v, m.m)}; }
FASTQ_INLINE D at_least(D a, D lo) { return {_mm256_max_pd(lo.v, a.v)}; }
FASTQ_INLINE D round_even(D a) { return {_mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE D pow2i(D n) {
  __m256i bits = _mm256_castpd_si256(_mm256_add_pd(n.v, _mm256_set1_pd(6755399441055744.0)));
  bits = _mm256_slli_epi64(_mm256_add_epi64(bits, _mm256_set1_epi64x(1023)), 52);
  return {_mm256_castsi256_pd(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }

// ---- Packed bits (kernels/bitpack.hpp, kernels/bgemm.hpp, kernels/peak.hpp) ----
// Mask lane i -> bit i (lane 0 in the least significant bit).
FASTQ_INLINE std::uint64_t to_bits(MF m) { return static_cast<std::uint32_t>(_mm256_movemask_ps(m.m)); }
FASTQ_INLINE std::uint64_t to_bits(MD m) { return static_cast<std::uint32_t>(_mm256_movemask_pd(m.m)); }

// A vector of 64-bit packed words.
struct Words {
  static constexpr std::size_t lanes = 4;
  __m256i v;
  static FASTQ_INLINE Words load(const std::uint64_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))};
  }
  static FASTQ_INLINE void store(std::uint64_t* p, Words a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.v); }
  static FASTQ_INLINE Words splat(std::uint64_t a) { return {_mm256_set1_epi64x(static_cast<long long>(a))}; }
  static FASTQ_INLINE Words splat32(std::uint32_t a) { return {_mm256_set1_epi32(static_cast<int>(a))}; }
  static FASTQ_INLINE Words zero() { return {_mm256_setzero_si256()}; }
};
FASTQ_INLINE Words operator&(Words a, Words b) { return {_mm256_and_si256(a.v, b.v)}; }
FASTQ_INLINE Words operator^(Words a, Words b) { return {_mm256_xor_si256(a.v, b.v)}; }
FASTQ_INLINE Words operator+(Words a, Words b) { return {_mm256_add_epi64(a.v, b.v)}; }
FASTQ_INLINE Words operator-(Words a, Words b) { return {_mm256_sub_epi64(a.v, b.v)}; }
// Hide w's value from the compiler (kernels/peak.hpp): an empty asm that may change the register.
FASTQ_INLINE void opaque(Words& w) { __asm__ volatile("" : "+v"(w.v)); }
// Lanes (as int64) -> lanes int32 at p (truncating).
FASTQ_INLINE void store_i32(std::int32_t* p, Words a) {
  const __m256i low = _mm256_permutevar8x32_epi32(a.v, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(low));
}

// In-register transpose of lanes x lanes words (4x4 here).
FASTQ_INLINE void transpose(Words (&w)[4]) {
  const __m256i t0 = _mm256_unpacklo_epi64(w[0].v, w[1].v), t1 = _mm256_unpackhi_epi64(w[0].v, w[1].v);
  const __m256i t2 = _mm256_unpacklo_epi64(w[2].v, w[3].v), t3 = _mm256_unpackhi_epi64(w[2].v, w[3].v);
  w[0].v = _mm256_permute2x128_si256(t0, t2, 0x20);
  w[1].v = _mm256_permute2x128_si256(t1, t3, 0x20);
  w[2].v = _mm256_permute2x128_si256(t0, t2, 0x31);
  w[3].v = _mm256_permute2x128_si256(t1, t3, 0x31);
}

// Popcount-accumulate without VPOPCNTQ (libpopcnt / Mula et al.): a 4-bit lookup table in
// VPSHUFB counts each byte; the counts add up in bytes for at most kPopSteps = 31 steps
// (31 * 8 = 248 < 256), then VPSADBW widens them into 64-bit lane sums.
struct PopAcc {
  __m256i v;
  static FASTQ_INLINE PopAcc zero() { return {_mm256_setzero_si256()}; }
};
constexpr std::size_t kPopSteps = 31;
FASTQ_INLINE PopAcc pop_add(PopAcc acc, Words x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x.v, low4));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x.v, 4), low4));
  return {_mm256_add_epi8(acc.v, _mm256_add_epi8(lo, hi))};
}
// sum (64-bit lane counts) + the byte counts of acc.
FASTQ_INLINE Words pop_widen(Words sum, PopAcc acc) {
  return {_mm256_add_epi64(sum.v, _mm256_sad_epu8(acc.v, _mm256_setzero_si256()))};
}
// The same in 32-bit lanes (bgemm.hpp's tap words): the byte counts, then VPMADDUBSW (counts
// <= 248 times 1, in pairs: <= 496 in 16 bits) and VPMADDWD add each lane's four.
using PopAcc32 = PopAcc;
constexpr std::size_t kPop32Steps = kPopSteps;
FASTQ_INLINE PopAcc32 pop_add32(PopAcc32 acc, Words x) { return pop_add(acc, x); }
FASTQ_INLINE Words pop_widen32(Words sum, PopAcc32 acc) {
  const __m256i pairs = _mm256_maddubs_epi16(acc.v, _mm256_set1_epi8(1));
  return {_mm256_add_epi32(sum.v, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))};
}
// k - 2 * (32-bit lane j of count) -> p[j], 2 * lanes int32.
FASTQ_INLINE void store_dots32(std::int32_t* p, Words count, std::int32_t k) {
  const __m256i d = _mm256_sub_epi32(_mm256_set1_epi32(k), _mm256_add_epi32(count.v, count.v));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), d);
}

// Bits j < 8 of (uint32(d[j]) - uint32(lo[j]) <= span[j]) (bgemm.hpp's packed output): a <= b
// unsigned is max(a, b) == b.
constexpr std::size_t kSpanLanes = 8;
FASTQ_INLINE std::uint64_t in_span_bits(const std::int32_t* d, const std::int32_t* lo, const std::uint32_t* span) {
  const __m256i a = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo)));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(span));
  const __m256i le = _mm256_cmpeq_epi32(_mm256_max_epu32(a, b), b);
  return static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(le)));
}

// bgemm register tile: 4 rows of A x 2 word vectors of B (8 columns): 8 byte accumulators,
// 2 B vectors, 1 broadcast, the table and the mask, temporaries: 16 ymm.
constexpr std::size_t kBgemmRows = 4;
constexpr std::size_t kBgemmVecs = 2;
// Peak probe tile (kernels/peak.hpp): its A rows live in registers (the GEMM broadcasts them
// from memory), so 2 x 2 (4 byte accumulators, 2 A, 2 B, the table, the mask, the widened sum,
// temporaries) - larger tiles spill, and measure the same rate: the ALU ports are the limit.
constexpr std::size_t kProbeRows = 2;
constexpr std::size_t kProbeVecs = 2;

// ---- Float layers (kernels/fconv.hpp, kernels/fpool.hpp) ----
// a * b + c with one rounding (VFMADD: same bits as std::fma).
FASTQ_INLINE F fma(F a, F b, F c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
// Conv register tile: up to 2 vectors (16 channels) x fconv_rows(nv) pixels of accumulators,
// plus nv weight vectors and one broadcast: 15 of 16 ymm for nv = 2.
constexpr std::size_t kFconvVecs = 2;
constexpr std::size_t fconv_rows(std::size_t nv) { return nv == 2 ? 6 : 8; }
