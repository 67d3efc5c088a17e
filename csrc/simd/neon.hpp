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
  static FASTQ_INLINE Vec splat(float a) { return {vdupq_n_f32(a)}; }
};
template <> struct Vec<double> {
  using Scalar = double;
  static constexpr std::size_t lanes = 2;
  float64x2_t v;
  static FASTQ_INLINE Vec load(const double* p) { return {vld1q_f64(p)}; }
  static FASTQ_INLINE void store(double* p, Vec a) { vst1q_f64(p, a.v); }
  static FASTQ_INLINE Vec splat(double a) { return {vdupq_n_f64(a)}; }
};
template <> struct Mask<float> { uint32x4_t m; };
template <> struct Mask<double> { uint64x2_t m; };

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
FASTQ_INLINE MD lt(D a, D b) { return {vcltq_f64(a.v, b.v)}; }
FASTQ_INLINE MD le(D a, D b) { return {vcleq_f64(a.v, b.v)}; }
FASTQ_INLINE MD gt(D a, D b) { return {vcgtq_f64(a.v, b.v)}; }
FASTQ_INLINE MD ge(D a, D b) { return {vcgeq_f64(a.v, b.v)}; }
FASTQ_INLINE MD eq(D a, D b) { return {vceqq_f64(a.v, b.v)}; }
FASTQ_INLINE MD isnan(D a) {
  return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(a.v, a.v))))};
}
FASTQ_INLINE MD operator&(MD a, MD b) { return {vandq_u64(a.m, b.m)}; }
FASTQ_INLINE MD operator|(MD a, MD b) { return {vorrq_u64(a.m, b.m)}; }
FASTQ_INLINE MD operator~(MD a) { return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(a.m)))}; }
FASTQ_INLINE D select(MD m, D a, D b) { return {vbslq_f64(m.m, a.v, b.v)}; }
FASTQ_INLINE D round_even(D a) { return {vrndnq_f64(a.v)}; }
FASTQ_INLINE D pow2i(D n) {
  int64x2_t bits = vreinterpretq_s64_f64(vaddq_f64(n.v, vdupq_n_f64(6755399441055744.0)));
  bits = vshlq_n_s64(vaddq_s64(bits, vdupq_n_s64(1023)), 52);
  return {vreinterpretq_f64_s64(bits)};
}

FASTQ_INLINE D load_f64(const float* p) { return {vcvt_f64_f32(vld1_f32(p))}; }
FASTQ_INLINE D load_f64(const double* p) { return D::load(p); }
