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
  static FASTQ_INLINE Vec splat(float a) { return {_mm512_set1_ps(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 8;
  __m512d v;
  static FASTQ_INLINE Vec load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { _mm512_storeu_pd(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {_mm512_set1_pd(a)}; }
};
template <> struct Mask<float> { __mmask16 m; };
template <> struct Mask<double> { __mmask8 m; };

using F = Vec<float>;
using D = Vec<double>;
using MF = Mask<float>;
using MD = Mask<double>;

FASTQ_INLINE F operator+(F a, F b) { return {_mm512_add_ps(a.v, b.v)}; }
FASTQ_INLINE F operator-(F a, F b) { return {_mm512_sub_ps(a.v, b.v)}; }
FASTQ_INLINE F operator*(F a, F b) { return {_mm512_mul_ps(a.v, b.v)}; }
FASTQ_INLINE F operator/(F a, F b) { return {_mm512_div_ps(a.v, b.v)}; }
FASTQ_INLINE F neg(F a) {
  return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN)))};
}
FASTQ_INLINE F abs(F a) { return {_mm512_abs_ps(a.v)}; }
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
FASTQ_INLINE D round_even(D a) { return {_mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
FASTQ_INLINE D pow2i(D n) {
  __m512i bits = _mm512_castpd_si512(_mm512_add_pd(n.v, _mm512_set1_pd(6755399441055744.0)));
  bits = _mm512_slli_epi64(_mm512_add_epi64(bits, _mm512_set1_epi64(1023)), 52);
  return {_mm512_castsi512_pd(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }
