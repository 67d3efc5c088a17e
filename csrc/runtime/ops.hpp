// The operations the bindings expose, on raw pointers: split the work over the thread pool
// and call a kernel table. Baseline code; no Python here. Results never depend on the thread
// count: elementwise work is split anywhere, reductions in fixed chunks combined in order.
#pragma once
#include <cstddef>

#include "fastq/kernel_table.hpp"

namespace fastq {
template <class T> const TypedKernels<T>& typed(const KernelTable& t);

// out = forward/backward pass of quantizer `id` over an x of rows x cols elements (row-major,
// contiguous; cols = the last axis, the channel axis). Runs the quantizer's prepare() first
// (whole-tensor statistics: MagnitudeAwareSign's per-channel scale, SteTern's TWN threshold,
// DoReFa weights' d = tanh(max|x|)), then its elementwise pass; both threaded, in tasks small
// enough to answer Ctrl-C (runtime/thread_pool.hpp). dy is null for forward passes.
template <class T>
void run_pass(const KernelTable& t, int id, bool backward, const T* x, const T* dy, T* out, std::size_t rows,
              std::size_t cols, const T* params);

// Sum of |x| in float64 (fixed chunks of kReduceChunk elements, each in the kernels' canonical
// order, chunk sums added in order).
template <class T> double abs_sum(const KernelTable& t, const T* x, std::size_t n);

// max |x| (NaN if any NaN).
template <class T> T max_abs(const KernelTable& t, const T* x, std::size_t n);

// scale[c] = mean over r of |x[r, c]|: float64 sums in row order, divided by rows, rounded once.
template <class T>
void channel_abs_mean(const KernelTable& t, const T* x, std::size_t rows, std::size_t cols, T* scale);

template <class T> void tanh(const KernelTable& t, const T* x, T* y, std::size_t n);

constexpr std::size_t kReduceChunk = std::size_t(1) << 16;

// Passes touching more bytes than this (inputs + output) write with non-temporal stores: 3/4
// of a 32 MiB L3, the rule glibc's memcpy follows. Measured on an AMD EPYC (Zen 4) VM at 1.6e7
// float32 (one thread): a copy 2.66 -> 2.2 ms; with full-width loads (simd/avx512.hpp) a
// backward pass 5.4 -> 3.0 ms.
constexpr std::size_t kStreamBytes = std::size_t(24) << 20;
}  // namespace fastq
