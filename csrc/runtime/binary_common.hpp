// The binary (packed-bit) family's runtime: raw-pointer drivers that split work over the thread
// pool and call a kernel table's BinaryKernels. Baseline code; no Python here. Results are
// exact integers (or a fixed float transform of them), so they never depend on the thread
// count. One file per kernel family: bitpack_ops, bgemm_ops, bconv_ops, bpool_ops.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>

#include "fastq/kernel_table.hpp"
#include "runtime/thread_pool.hpp"

namespace fastq {
// Words per packed row of k bits.
constexpr std::size_t packed_words(std::size_t k) { return (k + 63) / 64; }
// Words of the blocked layout of n rows of kw words.
constexpr std::size_t blocked_words(std::size_t n, std::size_t kw) {
  return (n + kBinaryBlock - 1) / kBinaryBlock * kBinaryBlock * kw;
}
inline std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// The most work one task of a region does, in the family's unit (values packed, words moved,
// word pairs XOR-popcounted): well under a millisecond on one core (a few ms on the scalar
// table, tens under qemu). A task is the unit of Ctrl-C polling (runtime/thread_pool.hpp), so
// long calls are cut into such tasks even on one thread.
constexpr std::size_t kMaxTaskWork = std::size_t(1) << 20;

// Checkpoints inside a long task at most once per kMaxTaskWork of work done (a checkpoint on
// the owner thread reads the clock: too dear per small kernel call). spend(w): true when the
// region is cancelled (the task should return).
class TaskMeter {
 public:
  bool spend(std::size_t w) {
    done_ += w;
    if (done_ < kMaxTaskWork) return false;
    done_ = 0;
    return checkpoint();
  }

 private:
  std::size_t done_ = 0;
};

// a * b for the size of a buffer; std::bad_array_new_length (a std::bad_alloc: MemoryError in
// Python) when it does not fit in a size_t (shapes can make sizes no allocation could hold).
inline std::size_t size_mul(std::size_t a, std::size_t b) {
  std::size_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw std::bad_array_new_length();
  return r;
}
inline std::size_t size_add(std::size_t a, std::size_t b) {
  std::size_t r;
  if (__builtin_add_overflow(a, b, &r)) throw std::bad_array_new_length();
  return r;
}
// a * b for a work estimate: saturates instead of wrapping.
inline std::size_t work_mul(std::size_t a, std::size_t b) {
  std::size_t r;
  return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

// Split `units` independent units of `work_per_unit` each into contiguous ranges run on the pool
// (fn(u0, u1)): on the calling thread when the total is below min_parallel_work (and one task's
// worth), else a few ranges per thread (claimed dynamically, which balances a busy machine), and
// always tasks of at most kMaxTaskWork (or one granule), each a multiple of `granule` units.
// work_per_unit == 0 means the units have nothing to write: nothing runs (the cost of a call
// follows the data, not the shape of an empty array).
void for_unit_ranges(std::size_t units, std::size_t work_per_unit, std::size_t min_parallel_work, std::size_t granule,
                     std::size_t tasks_per_thread, const std::function<void(std::size_t, std::size_t)>& fn);
}  // namespace fastq
