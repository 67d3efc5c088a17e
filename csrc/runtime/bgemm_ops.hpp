// Binary GEMM drivers (binary family, see binary_common.hpp), the output thresholds and the
// popcount peak probe.
#pragma once
#include "runtime/binary_common.hpp"

namespace fastq {
// out = A B^T over k-bit packed rows: a (a.kw words per row); b is n rows of a.kw words in the
// public format, or in the blocked layout when b_blocked. Public B is repacked one register
// tile of columns at a time, inside the task that uses it (it stays in L1). Signs output: the
// m rows of out.ld words are zeroed here first.
void binary_gemm(const KernelTable& t, const PackedRows& a, const std::uint64_t* b, bool b_blocked, std::size_t n,
                 const BinaryOut& out);

// The signs output's integer thresholds (BinaryOut): for each column j < n, the dots d in
// [-k, k] whose float32(float32(act(d)) * scale[j]) + bias[j] is < 0 form an interval (that value
// is monotone in d; NaN, which never packs as 1, only occurs at an end of the range), found
// by bisection with that exact float formula: bit = uint32(d - lo[j]) <= span[j]. An empty set
// is lo = k + 1, span = 0. k < 2**31.
void binary_thresholds(const float* scale, const float* bias, bool relu, std::size_t n, std::size_t k, std::int32_t* lo,
                       std::uint32_t* span);

// The xor + popcount peak of one core with t's GEMM popcount method (kernels/peak.hpp), in
// binary MACs per second (one MAC = one bit of one XOR), on the calling thread: the iteration
// count doubles until one run lasts at least seconds / 4, then the best of 3 runs of that length
// (about `seconds` in all). seconds > 0.
double popcount_peak(const KernelTable& t, double seconds);
}  // namespace fastq
