// The kernel table: every native kernel of one ISA, as plain function pointers.
// Baseline header: no SIMD types, no ISA-specific code. Each csrc/targets/<isa>.cpp fills one.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastq/float_kernels.hpp"
#include "fastq/quantizer_list.hpp"

namespace fastq {

// Kernel ids, one per entry of FASTQ_QUANTIZERS (fastq/quantizer_list.hpp): kSteSign, ...
#define FASTQ_ENUM_ENTRY(Name) k##Name,
enum QuantizerId : int { FASTQ_QUANTIZERS(FASTQ_ENUM_ENTRY) kNumQuantizers };
#undef FASTQ_ENUM_ENTRY

// Up to 4 parameters, already converted to the working dtype. Each quantizer declares their
// names once, in its csrc/quantizers/<name>.hpp (kParams); the bindings fill the slots by name.
constexpr int kNumParams = 4;
struct ParamNames {
  const char* name[kNumParams];  // slot i's name; null from the first unused slot on
};

// What a quantizer's prepare() may ask about the whole input before its elementwise pass:
// runtime/ops.cpp answers with threaded, ISA-independent reductions (computed on demand).
template <class T> struct TensorStats {
  virtual std::size_t size() const = 0;
  virtual std::size_t rows() const = 0;     // elements / last-axis length (1 for 0-d and 1-D input)
  virtual double abs_sum() = 0;             // sum of |x| in float64 in fastq's fixed order
  virtual T max_abs() = 0;                  // max |x|, NaN if any element is NaN
  virtual T tanh(T v) = 0;                  // fastq's tanh (ISA-independent)
  virtual const T* channel_abs_mean() = 0;  // per last-axis channel mean |x| (float64 sums)

 protected:
  ~TensorStats() = default;
};

// A quantizer's whole-tensor step: completes its parameters in place (e.g. SteTern's TWN
// threshold) and returns the per-channel scale its pass reads, or null (no scale: the pass then
// runs over the input as one row).
template <class T> using PrepareFn = const T* (*)(TensorStats<T>& stats, bool backward, T* params);

// out[r, c] = f(x[r, c], dy[r, c], scale[c]) for r < rows, c < cols, all rows contiguous
// (row stride = cols). dy may be null for forward passes; scale may be null (then the
// per-element scale is |x|, larq's 1-D MagnitudeAwareSign rule) and is read only by kernels
// that use a scale. stream: write out with non-temporal stores (for outputs far larger than
// the caches; the values are the same either way).
template <class T>
using ElementwiseFn = void (*)(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols, const T* scale,
                               const T* params, bool stream);

template <class T> struct TypedKernels {
  ElementwiseFn<T> forward[kNumQuantizers];
  ElementwiseFn<T> backward[kNumQuantizers];
  PrepareFn<T> prepare[kNumQuantizers];
  // Sum of |x| in float64, in the canonical order of kernels/reductions.hpp (identical on every
  // ISA): 32 running sums over i mod 32, combined by a fixed tree.
  double (*abs_sum)(const T* x, std::size_t n);
  // max |x|, NaN if any element is NaN (order-independent).
  T (*max_abs)(const T* x, std::size_t n);
  // acc[c] += sum_r |x[r * stride + c]| for c < width, r < rows, in row order (float64).
  void (*col_abs_sum)(const T* x, std::size_t rows, std::size_t width, std::size_t stride, double* acc);
  // y = tanh(x) with fastq's own (ISA-independent) approximation: used for DoReFa weights.
  void (*tanh)(const T* x, T* y, std::size_t n);
};

// ---- Binary (packed-bit) family: shared types; contract in docs/binary.md ----

// A view of packed rows: `rows` rows of `k` bits, row r at words + r * kw. The public format has
// kw = ceil(k / 64); a convolution's im2col rows hold one whole-word slice per tap, so there
// kw > ceil(k / 64). Bits beyond the k real ones are zero in every operand (they XOR to 0).
struct PackedRows {
  const std::uint64_t* words;
  std::size_t rows, k, kw;
  const std::uint64_t* row(std::size_t r) const { return words + r * kw; }
};

// The output transform of a binary product: what each dot = k - 2 * popcount(a_i XOR b_j)
// (the +-1 dot product, int32) becomes. The kernels compile one tile loop per kind and choose
// it once per call; the tile never tests pointers.
//   dots:   data[i * ld + j] = dot                                                (int32)
//   affine: data[i * ld + j] = float(float(act(dot)) * scale[j]) + bias[j]        (float32,
//           two roundings, no FMA; act = max(., 0) when relu, else the identity)
//   signs:  bit j of packed row i (row i at data + i * ld words) = that float is < 0, which the
//           caller has turned into an integer interval per column (binary_thresholds):
//           bit = uint32(dot - lo[j]) <= span[j]. Bits are ORed into words the caller zeroed.
enum class BinaryOutKind : int { dots, affine, signs };
struct BinaryOut {
  BinaryOutKind kind;
  void* data;
  std::size_t ld;             // elements (dots, affine) or words (signs) from one output row to the next
  const float* scale;         // affine
  const float* bias;          // affine
  bool relu;                  // affine (signs: folded into the thresholds)
  const std::int32_t* lo;     // signs
  const std::uint32_t* span;  // signs
  const float* residual;      // affine: nullptr, or added after the bias (same layout as data): y + r,
                              // one more rounding (a residual Add fused, as Keras computes BN(x) + r)
};

// A 2-D convolution over packed NHWC input (docs/binary.md). The input is the kernels' padded,
// grouped layout: n images of hp x wp pixels, the image at rows pad_top .., columns pad_left ..
// and zero words around it (hp, wp cover every output's receptive field); a pixel holds groups
// slices of cgw = ceil(cg / 64) words (cg channels each, zero padding bits), pixel (n, y, x) at
// ((n * hp + y) * wp + x) * groups * cgw. The weights of group g are og = o / groups rows of
// kh * kw * cgw words (tap (ky, kx) at words (ky * kw + kx) * cgw), k = kh * kw * cg bits, in the
// blocked layout, group g at g * (the blocked size of one group). Output pixels are numbered
// p = (n * oh + y) * ow + x; output row p, column g * og + j.
//
// Tap words (conv_tap_words): with one group of at most 32 channels a tap's word has its high
// half zero, so the weights instead hold one 32-bit word per tap and output channel, in blocks
// of kTapBlock channels: channel j's word of tap t is 32-bit half j % 2 of word
// ((j / kTapBlock) * kh * kw + t) * kTapBlock / 2 + (j % kTapBlock) / 2 (zero past o), and the
// kernel counts the XOR of the input's tap word (its low half) with them in 32-bit lanes: no
// popcount spent on the zero halves.
struct ConvShape {
  std::size_t n, h, w, groups, cg, cgw;
  std::size_t kh, kw, sh, sw, dh, dw;
  std::size_t pad_top, pad_left;  // "same": TensorFlow's split (top/left gets floor(total / 2))
  std::size_t hp, wp;             // the padded image
  std::size_t oh, ow, o;
  // pad_values = 0: a tap outside the input contributes 0. The kernel computes it as +1 (zero
  // words) and subtracts, for border pixels, the sum of sign(w) over the missing taps, from
  // tap_prefix: (kh + 1) x (kw + 1) x o int32, the 2-D prefix sums over taps of those sums.
  bool pad_zero;
  const std::int32_t* tap_prefix;
};

// Whether a convolution's weights use the tap-word layout (ConvShape), and its block of output
// channels (a multiple of every table's 32-bit lanes).
constexpr bool conv_tap_words(std::size_t groups, std::size_t cg, std::size_t kh, std::size_t kw) {
  return groups == 1 && cg <= 32 && kh * kw >= 2;
}
constexpr std::size_t kTapBlock = 16;

// Max pooling over packed NHWC (docs/binary.md): an output word is the AND of the window's
// words (max of +-1 is -1 only where every tap is -1); "same" windows are clipped at the border.
struct PoolShape { std::size_t n, h, w, cw, ph, pw, sh, sw, pad_top, pad_left, oh, ow; };

// Packed-bit kernels. Public format (docs/packed-format.md): a row of k values is
// words(k) = ceil(k / 64) uint64 words, element i in bit i % 64 of word i / 64, bit = 1 exactly
// when x < 0 (so -0.0 and NaN give 0), padding bits zero. "Blocked" is the GEMM kernels' own
// layout of B (identical on every ISA): rows in blocks of kBinaryBlock, block b holding
// word w of row b * kBinaryBlock + c at [(b * kw + w) * kBinaryBlock + c], missing rows zero.
constexpr std::size_t kBinaryBlock = 8;
struct BinaryKernels {
  // Register tile of gemm: tile_rows rows of A by tile_cols columns (a multiple of kBinaryBlock
  // that divides 64).
  std::size_t tile_rows, tile_cols;
  // x: rows x k values (row-major, contiguous) -> out: rows x words(k).
  void (*pack_f32)(const float* x, std::size_t rows, std::size_t k, std::uint64_t* out);
  void (*pack_f64)(const double* x, std::size_t rows, std::size_t k, std::uint64_t* out);
  // words: rows x words(k) -> out: rows x k values in {-1, +1}.
  void (*unpack_f32)(const std::uint64_t* words, std::size_t rows, std::size_t k, float* out);
  // b: n rows of kw words (public rows), ld >= kw words apart -> out: the blocked layout,
  // ceil(n / 8) * 8 * kw words (ld > kw packs words [w0, w0 + kw) of longer rows: see
  // runtime/bitpack_ops.cpp).
  void (*pack_blocked)(const std::uint64_t* b, std::size_t n, std::size_t kw, std::size_t ld, std::uint64_t* out);
  // The rows of a against the n columns of b_blocked (blocked layout, a.kw words per row,
  // starting at a block boundary) into out rows row0.., columns col0...
  void (*gemm)(const PackedRows& a, const std::uint64_t* b_blocked, std::size_t n, const BinaryOut& out,
               std::size_t row0, std::size_t col0);
  // Output pixels [p0, p1) of a convolution (ConvShape); scratch: 2 * kh * kw entries.
  void (*conv)(const ConvShape& s, const std::uint64_t* x, const std::uint64_t* w_blocked, std::size_t p0,
               std::size_t p1, const BinaryOut& out, std::size_t* scratch);
  // Output rows [r0, r1) (r = n * oh + y) of a max pooling (PoolShape): out has cw words per
  // pixel; scratch: w * cw words.
  void (*max_pool)(const PoolShape& s, const std::uint64_t* x, std::uint64_t* out, std::size_t r0, std::size_t r1,
                   std::uint64_t* scratch);
  // The xor + popcount peak probe (kernels/peak.hpp): `iters` iterations of the GEMM's inner
  // step on registers only, probe_macs_per_iter binary MACs (bits of XOR) each; returns a
  // checksum (the total count of ones) that depends on seed. Timed by runtime/bgemm_ops.cpp.
  std::uint64_t (*popcount_probe)(std::uint64_t iters, std::uint64_t seed);
  std::uint64_t probe_macs_per_iter;
};

struct KernelTable {
  const char* isa;
  ParamNames params[kNumQuantizers];  // each quantizer's parameter names (its kParams)
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  BinaryKernels binary;
  FloatKernels fl;  // fastq/float_kernels.hpp
};

}  // namespace fastq
