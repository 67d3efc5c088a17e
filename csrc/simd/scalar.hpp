// Scalar vocabulary: one lane. The scalar table is the reference every SIMD table is tested
// against; it runs the same generic kernels as the SIMD tables, one element at a time.
// Included inside namespace fastq::<isa> by a target TU (see csrc/targets/scalar.cpp).

template <class T>
struct Vec {
  using Scalar = T;
  static constexpr std::size_t lanes = 1;
  T v;
  static FASTQ_INLINE Vec load(const T* p) { return {*p}; }
  static FASTQ_INLINE void store(T* p, Vec a) { *p = a.v; }
  static FASTQ_INLINE Vec splat(T a) { return {a}; }
};

template <class T>
struct Mask {
  bool m;
};

template <class T> FASTQ_INLINE Vec<T> operator+(Vec<T> a, Vec<T> b) { return {a.v + b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator-(Vec<T> a, Vec<T> b) { return {a.v - b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator*(Vec<T> a, Vec<T> b) { return {a.v * b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator/(Vec<T> a, Vec<T> b) { return {a.v / b.v}; }
template <class T> FASTQ_INLINE Vec<T> neg(Vec<T> a) { return {-a.v}; }
FASTQ_INLINE Vec<float> abs(Vec<float> a) { return {__builtin_fabsf(a.v)}; }
FASTQ_INLINE Vec<double> abs(Vec<double> a) { return {__builtin_fabs(a.v)}; }

template <class T> FASTQ_INLINE Mask<T> lt(Vec<T> a, Vec<T> b) { return {a.v < b.v}; }
template <class T> FASTQ_INLINE Mask<T> le(Vec<T> a, Vec<T> b) { return {a.v <= b.v}; }
template <class T> FASTQ_INLINE Mask<T> gt(Vec<T> a, Vec<T> b) { return {a.v > b.v}; }
template <class T> FASTQ_INLINE Mask<T> ge(Vec<T> a, Vec<T> b) { return {a.v >= b.v}; }
template <class T> FASTQ_INLINE Mask<T> eq(Vec<T> a, Vec<T> b) { return {a.v == b.v}; }
template <class T> FASTQ_INLINE Mask<T> isnan(Vec<T> a) { return {a.v != a.v}; }
template <class T> FASTQ_INLINE Mask<T> operator&(Mask<T> a, Mask<T> b) { return {a.m && b.m}; }
template <class T> FASTQ_INLINE Mask<T> operator|(Mask<T> a, Mask<T> b) { return {a.m || b.m}; }
template <class T> FASTQ_INLINE Mask<T> operator~(Mask<T> a) { return {!a.m}; }
// m ? a : b, lane by lane.
template <class T> FASTQ_INLINE Vec<T> select(Mask<T> m, Vec<T> a, Vec<T> b) { return m.m ? a : b; }

// Round to nearest, ties to even (the default rounding mode; never std::round).
FASTQ_INLINE Vec<float> round_even(Vec<float> a) { return {__builtin_rintf(a.v)}; }
FASTQ_INLINE Vec<double> round_even(Vec<double> a) { return {__builtin_rint(a.v)}; }

// 2^n for integer-valued n in the normal exponent range. Same bit trick on every ISA: adding
// 1.5*2^mantissa_bits puts n in the low bits; adding the bias and shifting builds the exponent.
FASTQ_INLINE Vec<float> pow2i(Vec<float> n) {
  float t = n.v + 12582912.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &t, 4);
  bits = (bits + 127u) << 23;
  float r;
  std::memcpy(&r, &bits, 4);
  return {r};
}
FASTQ_INLINE Vec<double> pow2i(Vec<double> n) {
  double t = n.v + 6755399441055744.0;
  std::uint64_t bits;
  std::memcpy(&bits, &t, 8);
  bits = (bits + 1023u) << 52;
  double r;
  std::memcpy(&r, &bits, 8);
  return {r};
}

// Vec<double>::lanes elements, widened to double.
FASTQ_INLINE Vec<double> load_f64(const float* p) { return {static_cast<double>(*p)}; }
FASTQ_INLINE Vec<double> load_f64(const double* p) { return {*p}; }
