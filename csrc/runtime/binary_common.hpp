// The binary (packed-bit) family's runtime: raw-pointer drivers that split work over the thread
// pool and call a kernel table's BinaryKernels. Baseline code; no Python here. Results are
// exact integers (or a fixed float transform of them), so they never depend on the thread
// count. One file per kernel family: bitpack_ops, bgemm_ops, bconv_ops, bpool_ops.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "fastq/kernel_table.hpp"

namespace fastq {
// Words per packed row of k bits.
constexpr std::size_t packed_words(std::size_t k) {
  return (k + 63) / 64;
}
// Words of the blocked layout of n rows of kw words.
constexpr std::size_t blocked_words(std::size_t n, std::size_t kw) {
  return (n + kBinaryBlock - 1) / kBinaryBlock * kBinaryBlock * kw;
}
inline std::size_t ceil_div(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}

// Split `units` independent units of `work_per_unit` each into contiguous ranges run on the pool
// (fn(u0, u1)): on the calling thread when the total is below min_parallel_work, else a few
// ranges per thread (claimed dynamically, which balances a busy machine), each a multiple of
// `granule` units.
void for_unit_ranges(std::size_t units, std::size_t work_per_unit, std::size_t min_parallel_work, std::size_t granule,
                     std::size_t tasks_per_thread, const std::function<void(std::size_t, std::size_t)>& fn);
}  // namespace fastq
