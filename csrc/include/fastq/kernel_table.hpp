// The kernel table: every native kernel of one ISA, as plain function pointers.
// Baseline header: no SIMD types, no ISA-specific code. Each csrc/targets/<isa>.cpp fills one.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastq/quantizer_list.hpp"

namespace fastq {

// Kernel ids, one per entry of FASTQ_QUANTIZERS (fastq/quantizer_list.hpp): kSteSign, ...
#define FASTQ_ENUM_ENTRY(Name) k##Name,
enum QuantizerId : int { FASTQ_QUANTIZERS(FASTQ_ENUM_ENTRY) kNumQuantizers };
#undef FASTQ_ENUM_ENTRY

// Up to 4 parameters, already converted to the working dtype; their meaning is per quantizer
// (documented in each csrc/quantizers/<name>.hpp).
constexpr int kNumParams = 4;

// out[r, c] = f(x[r, c], dy[r, c], scale[c]) for r < rows, c < cols, all rows contiguous
// (row stride = cols). dy may be null for forward passes; scale may be null (then the
// per-element scale is |x|, larq's 1-D MagnitudeAwareSign rule) and is read only by kernels
// that use a scale. stream: write out with non-temporal stores (for outputs far larger than
// the caches; the values are the same either way).
template <class T>
using ElementwiseFn = void (*)(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols,
                               const T* scale, const T* params, bool stream);

template <class T>
struct TypedKernels {
  ElementwiseFn<T> forward[kNumQuantizers];
  ElementwiseFn<T> backward[kNumQuantizers];
  // Sum of |x| in float64, in the canonical order of kernels/reductions.hpp (identical on every
  // ISA): 32 running sums over i mod 32, combined by a fixed tree.
  double (*abs_sum)(const T* x, std::size_t n);
  // max |x|, NaN if any element is NaN (order-independent).
  T (*max_abs)(const T* x, std::size_t n);
  // acc[c] += sum_r |x[r * stride + c]| for c < width, r < rows, in row order (float64).
  void (*col_abs_sum)(const T* x, std::size_t rows, std::size_t width, std::size_t stride,
                      double* acc);
  // y = tanh(x) with fastq's own (ISA-independent) approximation: used for DoReFa weights.
  void (*tanh)(const T* x, T* y, std::size_t n);
};

// Where binary GEMM results go (exactly one of dots / y / bits is set). For output row i and
// column j, with dot = k - 2 * popcount(a_i XOR b_j) (the +-1 dot product over k bits):
//   dots[i * ld + j] = dot                                  (int32)
//   y[i * ld + j]    = float(dot) * scale[j] + bias[j]      (float32, two roundings, no FMA)
//   bits: the packed signs of that y (bit = y < 0), row i at bits + i * ld (ld in words).
struct BinaryOut {
  std::int32_t* dots;
  float* y;
  std::uint64_t* bits;
  const float* scale;  // y and bits only: one per column, never null there
  const float* bias;   // likewise
  std::size_t ld;
};

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
  // b: n rows x kw words (public rows) -> out: the blocked layout, ceil(n / 8) * 8 * kw words.
  void (*pack_blocked)(const std::uint64_t* b, std::size_t n, std::size_t kw, std::uint64_t* out);
  // Rows [0, m) of a (public rows, kw words each, k bits) against the n columns of b_blocked
  // (blocked layout, starting at a block boundary) into out rows row0.., columns col0...
  // Bits output: a tile starting at a multiple of 64 columns sets its output word, later tiles
  // OR into it, so each word must be written by one thread, in increasing column order.
  void (*gemm)(const std::uint64_t* a, std::size_t m, const std::uint64_t* b_blocked, std::size_t n,
               std::size_t kw, std::size_t k, const BinaryOut& out, std::size_t row0, std::size_t col0);
  // The xor + popcount peak probe (kernels/peak.hpp): `iters` iterations of the GEMM's inner
  // step on registers only, probe_macs_per_iter binary MACs (bits of XOR) each; returns a
  // checksum (the total count of ones) that depends on seed. Timed by runtime/binary_ops.cpp.
  std::uint64_t (*popcount_probe)(std::uint64_t iters, std::uint64_t seed);
  std::uint64_t probe_macs_per_iter;
};

struct KernelTable {
  const char* isa;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  BinaryKernels binary;
};

}  // namespace fastq
