// Scalar vocabulary: one lane. The scalar table is the reference every SIMD table is tested
// against; it runs the same generic kernels as the SIMD tables, one element at a time.
// Included inside namespace fastq::<isa> by a target TU (see csrc/targets/scalar.cpp).

template <class T> struct Vec {
  using Scalar = T;
  static constexpr std::size_t lanes = 1;
  T v;
  static FASTQ_INLINE Vec load(const T* p) { return {*p}; }
  static FASTQ_INLINE void store(T* p, Vec a) { *p = a.v; }
  static FASTQ_INLINE void stream(T* p, Vec a) { *p = a.v; }  // the reference: a plain store
  static FASTQ_INLINE Vec splat(T a) { return {a}; }
};

template <class V> FASTQ_INLINE void full_load(V&) {}  // no masked loads here (avx512.hpp)
FASTQ_INLINE void stream_fence() {}

template <class T> struct Mask { bool m; };

template <class T> FASTQ_INLINE Vec<T> operator+(Vec<T> a, Vec<T> b) { return {a.v + b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator-(Vec<T> a, Vec<T> b) { return {a.v - b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator*(Vec<T> a, Vec<T> b) { return {a.v * b.v}; }
template <class T> FASTQ_INLINE Vec<T> operator/(Vec<T> a, Vec<T> b) { return {a.v / b.v}; }
template <class T> FASTQ_INLINE Vec<T> neg(Vec<T> a) { return {-a.v}; }
FASTQ_INLINE Vec<float> abs(Vec<float> a) { return {__builtin_fabsf(a.v)}; }
FASTQ_INLINE Vec<double> abs(Vec<double> a) { return {__builtin_fabs(a.v)}; }
// copysign(a, b): |a| with the sign bit of b (bit operations only, NaN included).
FASTQ_INLINE Vec<float> copysign(Vec<float> a, Vec<float> b) { return {__builtin_copysignf(a.v, b.v)}; }
FASTQ_INLINE Vec<double> copysign(Vec<double> a, Vec<double> b) { return {__builtin_copysign(a.v, b.v)}; }

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
// at_least(a, lo) = a < lo ? lo : a, i.e. select(lt(a, lo), lo, a) in one instruction where
// the ISA has one (x86 max with lo first: a NaN a stays a). lo must not be NaN.
template <class T> FASTQ_INLINE Vec<T> at_least(Vec<T> a, Vec<T> lo) { return a.v < lo.v ? lo : a; }

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

// ---- Packed bits (kernels/bitpack.hpp, kernels/bgemm.hpp, kernels/peak.hpp) ----
// Mask lane i -> bit i (one lane here).
template <class T> FASTQ_INLINE std::uint64_t to_bits(Mask<T> m) { return m.m ? 1u : 0u; }

// One 64-bit packed word.
struct Words {
  static constexpr std::size_t lanes = 1;
  std::uint64_t v;
  static FASTQ_INLINE Words load(const std::uint64_t* p) { return {*p}; }
  static FASTQ_INLINE void store(std::uint64_t* p, Words a) { *p = a.v; }
  static FASTQ_INLINE Words splat(std::uint64_t a) { return {a}; }
  static FASTQ_INLINE Words splat32(std::uint32_t a) { return {std::uint64_t(a) | std::uint64_t(a) << 32}; }
  static FASTQ_INLINE Words zero() { return {0}; }
};
FASTQ_INLINE Words operator&(Words a, Words b) { return {a.v & b.v}; }
FASTQ_INLINE Words operator^(Words a, Words b) { return {a.v ^ b.v}; }
FASTQ_INLINE Words operator+(Words a, Words b) { return {a.v + b.v}; }
FASTQ_INLINE Words operator-(Words a, Words b) { return {a.v - b.v}; }
// Hide w's value from the compiler (kernels/peak.hpp): an empty asm that may change the register.
FASTQ_INLINE void opaque(Words& w) { __asm__ volatile("" : "+r"(w.v)); }
// The lane (as int64) -> int32 at p (truncating).
FASTQ_INLINE void store_i32(std::int32_t* p, Words a) { *p = static_cast<std::int32_t>(a.v); }
FASTQ_INLINE void transpose(Words (&)[1]) {}

// Popcount-accumulate: the portable bit-parallel count (no POPCNT in the x86-64 baseline),
// exact in 64 bits, so no widening is needed (kPopSteps = 0: unlimited).
using PopAcc = Words;
constexpr std::size_t kPopSteps = 0;
// Each byte's count of ones, in that byte (bit-parallel: no POPCNT in the scalar baseline).
FASTQ_INLINE std::uint64_t byte_counts(std::uint64_t v) {
  v = v - ((v >> 1) & 0x5555555555555555u);
  v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
  return (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fu;
}
FASTQ_INLINE PopAcc pop_add(PopAcc acc, Words x) { return {acc.v + ((byte_counts(x.v) * 0x0101010101010101u) >> 56)}; }
FASTQ_INLINE Words pop_widen(Words sum, PopAcc acc) { return sum + acc; }
// The same in 32-bit lanes (bgemm.hpp's tap words): each half's count in that half (a half's
// running count stays below 2^31, so the halves never carry into each other).
using PopAcc32 = Words;
constexpr std::size_t kPop32Steps = 0;
FASTQ_INLINE PopAcc32 pop_add32(PopAcc32 acc, Words x) {
  std::uint64_t v = byte_counts(x.v);
  v = v + (v >> 8);
  return {acc.v + ((v + (v >> 16)) & 0x000000ff000000ffu)};
}
FASTQ_INLINE Words pop_widen32(Words sum, PopAcc32 acc) { return sum + acc; }
// k - 2 * (32-bit half j of count) -> p[j], 2 int32.
FASTQ_INLINE void store_dots32(std::int32_t* p, Words count, std::int32_t k) {
  p[0] = k - 2 * static_cast<std::int32_t>(count.v & 0xffffffffu);
  p[1] = k - 2 * static_cast<std::int32_t>(count.v >> 32);
}

// Bits j < 2 of (uint32(d[j]) - uint32(lo[j]) <= span[j]) (bgemm.hpp's packed output: 2 int32 per word).
constexpr std::size_t kSpanLanes = 2;
FASTQ_INLINE std::uint64_t in_span_bits(const std::int32_t* d, const std::int32_t* lo, const std::uint32_t* span) {
  std::uint64_t m = 0;
  for (std::size_t j = 0; j < kSpanLanes; ++j) {
    const std::uint32_t a = static_cast<std::uint32_t>(d[j]) - static_cast<std::uint32_t>(lo[j]);
    m |= static_cast<std::uint64_t>(a <= span[j]) << j;
  }
  return m;
}

// bgemm register tile: 2 rows of A x 8 words of B (8 columns).
constexpr std::size_t kBgemmRows = 2;
constexpr std::size_t kBgemmVecs = 8;
// Peak probe tile (kernels/peak.hpp): 2 x 2, so accumulators, A, B and the four count
// constants fit the 15 general registers.
constexpr std::size_t kProbeRows = 2;
constexpr std::size_t kProbeVecs = 2;

// ---- Float layers (kernels/fconv.hpp, kernels/fpool.hpp) ----
// a * b + c with one rounding. The x86-64 baseline has no FMA instruction, so this is a call to
// libm's fmaf (correctly rounded, like every FMA instruction): slow, but it is the reference.
FASTQ_INLINE Vec<float> fma(Vec<float> a, Vec<float> b, Vec<float> c) { return {__builtin_fmaf(a.v, b.v, c.v)}; }
// Conv register tile: up to kFconvVecs vectors of output channels x fconv_rows(nv) pixels
// (every FMA is a call here: the tile only sets the loop structure).
constexpr std::size_t kFconvVecs = 4;
constexpr std::size_t fconv_rows(std::size_t) { return 2; }
