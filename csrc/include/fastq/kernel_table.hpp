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
// that use a scale.
template <class T>
using ElementwiseFn = void (*)(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols,
                               const T* scale, const T* params);

template <class T>
struct TypedKernels {
  ElementwiseFn<T> forward[kNumQuantizers];
  ElementwiseFn<T> backward[kNumQuantizers];
  // Sum of |x| in float64, in the canonical order of kernels/reductions.hpp (identical on every
  // ISA): 16 running sums over i mod 16, combined by a fixed tree.
  double (*abs_sum)(const T* x, std::size_t n);
  // max |x|, NaN if any element is NaN (order-independent).
  T (*max_abs)(const T* x, std::size_t n);
  // acc[c] += sum_r |x[r * stride + c]| for c < width, r < rows, in row order (float64).
  void (*col_abs_sum)(const T* x, std::size_t rows, std::size_t width, std::size_t stride,
                      double* acc);
  // y = tanh(x) with fastq's own (ISA-independent) approximation: used for DoReFa weights.
  void (*tanh)(const T* x, T* y, std::size_t n);
};

struct KernelTable {
  const char* isa;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
};

}  // namespace fastq
