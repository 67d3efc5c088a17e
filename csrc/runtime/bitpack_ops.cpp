#include "runtime/bitpack_ops.hpp"

#include <algorithm>
#include <cstring>

#include "runtime/thread_pool.hpp"

namespace fastq {
namespace {
// Packing: rows per task at least this many values' worth.
constexpr std::size_t kMinParallelValues = std::size_t(1) << 16;

void (*pack_fn(const KernelTable& t, const float*))(const float*, std::size_t, std::size_t, std::uint64_t*) {
  return t.binary.pack_f32;
}
void (*pack_fn(const KernelTable& t, const double*))(const double*, std::size_t, std::size_t, std::uint64_t*) {
  return t.binary.pack_f64;
}
}  // namespace

void for_unit_ranges(std::size_t units, std::size_t work_per_unit, std::size_t min_parallel_work, std::size_t granule,
                     std::size_t tasks_per_thread, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (units == 0 || work_per_unit == 0) return;
  const std::size_t threads = static_cast<std::size_t>(get_num_threads());
  const std::size_t granules = ceil_div(units, granule);
  const std::size_t total = work_mul(units, work_per_unit);
  const bool parallel = threads > 1 && total >= min_parallel_work && granules > 1;
  if (!parallel && total <= kMaxTaskWork) {
    fn(0, units);
    return;
  }
  // Enough tasks for the threads, and enough that none exceeds kMaxTaskWork (one granule at least).
  const std::size_t per_granule = work_mul(granule, work_per_unit);
  const std::size_t bounded = per_granule >= kMaxTaskWork ? granules : ceil_div(granules, kMaxTaskWork / per_granule);
  const std::size_t tasks = std::min(granules, std::max(parallel ? tasks_per_thread * threads : 1, bounded));
  // Task sizes differ by at most one granule: a fixed step of ceil(G / T) leaves a short last
  // task (98 granules in 8 tasks: 7 x 13 + 7), which caps two threads at 7.5 / 4 = 1.88x.
  const std::size_t base = granules / tasks, extra = granules % tasks;  // the first `extra` tasks take one more
  const auto start = [&](std::size_t i) { return std::min(units, (i * base + std::min(i, extra)) * granule); };
  parallel_for(tasks, [&](std::size_t i) { fn(start(i), start(i + 1)); });
}

namespace {
// Rows of k values as tasks: whole rows, or, for rows longer than a task, pieces of whole words
// (a row's packed words are the concatenation of its pieces' words). fn(r, nrows, c0, len):
// values [c0, c0 + len) of rows [r, r + nrows); c0 is a multiple of 64, and len < k only when
// nrows == 1.
using RowPieceFn = std::function<void(std::size_t, std::size_t, std::size_t, std::size_t)>;
void for_row_pieces(std::size_t rows, std::size_t k, const RowPieceFn& fn) {
  if (k <= kMaxTaskWork) {
    for_unit_ranges(rows, k, kMinParallelValues, 1, 1, [&](std::size_t r0, std::size_t r1) { fn(r0, r1 - r0, 0, k); });
    return;
  }
  constexpr std::size_t step = kMaxTaskWork / 64 * 64;
  const std::size_t per_row = ceil_div(k, step);
  for_unit_ranges(size_mul(rows, per_row), step, kMinParallelValues, 1, 1, [&](std::size_t u0, std::size_t u1) {
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t c0 = (u % per_row) * step;
      fn(u / per_row, 1, c0, std::min(step, k - c0));
    }
  });
}
}  // namespace

template <class T>
void pack_bits(const KernelTable& t, const T* x, std::size_t rows, std::size_t k, std::uint64_t* out) {
  const auto pack = pack_fn(t, x);
  const std::size_t kw = packed_words(k);
  for_row_pieces(rows, k, [&](std::size_t r, std::size_t nrows, std::size_t c0, std::size_t len) {
    pack(x + r * k + c0, nrows, len, out + r * kw + c0 / 64);
  });
}
template void pack_bits<float>(const KernelTable&, const float*, std::size_t, std::size_t, std::uint64_t*);
template void pack_bits<double>(const KernelTable&, const double*, std::size_t, std::size_t, std::uint64_t*);

void unpack_bits(const KernelTable& t, const std::uint64_t* words, std::size_t rows, std::size_t k, float* out) {
  const std::size_t kw = packed_words(k);
  for_row_pieces(rows, k, [&](std::size_t r, std::size_t nrows, std::size_t c0, std::size_t len) {
    t.binary.unpack_f32(words + r * kw + c0 / 64, nrows, len, out + r * k + c0);
  });
}

void pack_blocked(const KernelTable& t, const std::uint64_t* b, std::size_t n, std::size_t kw, std::uint64_t* out) {
  const std::size_t blocks = ceil_div(n, kBinaryBlock), block_words = kBinaryBlock * kw;
  if (block_words <= kMaxTaskWork) {  // whole blocks per task
    for_unit_ranges(blocks, block_words, kMinParallelValues, 1, 1, [&](std::size_t b0, std::size_t b1) {
      const std::size_t r0 = b0 * kBinaryBlock, r1 = std::min(n, b1 * kBinaryBlock);
      t.binary.pack_blocked(b + r0 * kw, r1 - r0, kw, kw, out + b0 * block_words);
    });
    return;
  }
  // A block longer than a task (rows of more than 2^17 words) goes in pieces of `step` words of
  // its rows: a piece's blocked words, [w0 * 8, (w0 + len) * 8) of its block, are contiguous.
  // step is a multiple of every table's lanes, so only a row's last piece has a scalar tail.
  constexpr std::size_t step = kMaxTaskWork / kBinaryBlock;
  const std::size_t per_block = ceil_div(kw, step);
  for_unit_ranges(size_mul(blocks, per_block), kMaxTaskWork, kMinParallelValues, 1, 1,
                  [&](std::size_t u0, std::size_t u1) {
                    for (std::size_t u = u0; u < u1; ++u) {
                      const std::size_t blk = u / per_block, w0 = (u % per_block) * step, r0 = blk * kBinaryBlock;
                      t.binary.pack_blocked(b + r0 * kw + w0, std::min(kBinaryBlock, n - r0), std::min(step, kw - w0),
                                            kw, out + blk * block_words + w0 * kBinaryBlock);
                    }
                  });
}

void regroup_rows(const std::uint64_t* words, std::size_t rows, std::size_t groups, std::size_t cg,
                  std::uint64_t* out) {
  const std::size_t kw = packed_words(groups * cg), cgw = packed_words(cg);
  if (cg % 64 == 0) {  // group slices are already whole words: the layouts coincide
    std::memcpy(out, words, rows * kw * sizeof(std::uint64_t));
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint64_t* src = words + r * kw;
    std::uint64_t* dst = out + r * groups * cgw;
    for (std::size_t g = 0; g < groups; ++g, dst += cgw) {
      for (std::size_t i = 0; i < cgw; ++i) {  // bits b .. b + 63 of the row, b = g * cg + 64 i
        const std::size_t b = g * cg + 64 * i, q = b / 64, s = b % 64;
        std::uint64_t v = src[q] >> s;
        if (s && q + 1 < kw) v |= src[q + 1] << (64 - s);
        const std::size_t left = cg - 64 * i;  // real bits in this word
        if (left < 64) v &= (std::uint64_t(1) << left) - 1;
        dst[i] = v;
      }
    }
  }
}
}  // namespace fastq
