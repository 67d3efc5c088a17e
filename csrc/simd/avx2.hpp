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
  static FASTQ_INLINE Vec splat(float a) { return {_mm256_set1_ps(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 4;
  __m256d v;
  static FASTQ_INLINE Vec load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { _mm256_storeu_pd(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {_mm256_set1_pd(a)}; }
};
template <> struct Mask<float> { __m256 m; };
template <> struct Mask<double> { __m256d m; };

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
FASTQ_INLINE D round_even(D a) { return {_mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE D pow2i(D n) {
  __m256i bits = _mm256_castpd_si256(_mm256_add_pd(n.v, _mm256_set1_pd(6755399441055744.0)));
  bits = _mm256_slli_epi64(_mm256_add_epi64(bits, _mm256_set1_epi64x(1023)), 52);
  return {_mm256_castsi256_pd(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }
