#include "runtime/binary_ops.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "runtime/thread_pool.hpp"

namespace fastq {
namespace {
// Below this many word pairs (m * n * kw) a product stays on the calling thread: about 10 us of
// AVX-512 work, where waking a worker starts to pay off (measured in bench/bench_binary.py).
constexpr std::size_t kMinParallelWordPairs = std::size_t(1) << 19;
// Packing: rows per task at least this many values' worth.
constexpr std::size_t kMinParallelValues = std::size_t(1) << 16;
// Column splits are whole output words, so no two tasks write the same packed output word.
constexpr std::size_t kColumnUnit = 64;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Split rows x (values per row) into contiguous row ranges over the pool.
template <class F>
void for_row_ranges(std::size_t rows, std::size_t per_row, F&& fn) {
  const std::size_t total = rows * per_row;
  std::size_t pieces = total < kMinParallelValues ? 1 : std::min<std::size_t>(get_num_threads(), total / (kMinParallelValues / 2));
  pieces = std::max<std::size_t>(1, std::min(pieces, rows));
  if (pieces <= 1) {
    if (rows) fn(std::size_t(0), rows);
    return;
  }
  const std::size_t step = ceil_div(rows, pieces);
  parallel_for(pieces, [&](std::size_t i) {
    const std::size_t r0 = std::min(rows, i * step), r1 = std::min(rows, r0 + step);
    if (r0 < r1) fn(r0, r1);
  });
}
}  // namespace

static void (*pack_fn(const KernelTable& t, const float*))(const float*, std::size_t, std::size_t, std::uint64_t*) {
  return t.binary.pack_f32;
}
static void (*pack_fn(const KernelTable& t, const double*))(const double*, std::size_t, std::size_t, std::uint64_t*) {
  return t.binary.pack_f64;
}

template <class T>
void pack_bits(const KernelTable& t, const T* x, std::size_t rows, std::size_t k, std::uint64_t* out) {
  const auto pack = pack_fn(t, x);
  const std::size_t kw = packed_words(k);
  for_row_ranges(rows, k, [&](std::size_t r0, std::size_t r1) { pack(x + r0 * k, r1 - r0, k, out + r0 * kw); });
}
template void pack_bits<float>(const KernelTable&, const float*, std::size_t, std::size_t, std::uint64_t*);
template void pack_bits<double>(const KernelTable&, const double*, std::size_t, std::size_t, std::uint64_t*);

void unpack_bits(const KernelTable& t, const std::uint64_t* words, std::size_t rows, std::size_t k, float* out) {
  const std::size_t kw = packed_words(k);
  for_row_ranges(rows, k, [&](std::size_t r0, std::size_t r1) { t.binary.unpack_f32(words + r0 * kw, r1 - r0, k, out + r0 * k); });
}

void pack_blocked(const KernelTable& t, const std::uint64_t* b, std::size_t n, std::size_t kw, std::uint64_t* out) {
  const std::size_t blocks = ceil_div(n, kBinaryBlock);
  for_row_ranges(blocks, kBinaryBlock * kw, [&](std::size_t b0, std::size_t b1) {
    const std::size_t r0 = b0 * kBinaryBlock, r1 = std::min(n, b1 * kBinaryBlock);
    t.binary.pack_blocked(b + r0 * kw, r1 - r0, kw, out + b0 * kBinaryBlock * kw);
  });
}

void binary_gemm(const KernelTable& t, const std::uint64_t* a, std::size_t m, const std::uint64_t* b, bool b_blocked,
                 std::size_t n, std::size_t k, const BinaryOut& out) {
  if (m == 0 || n == 0) return;
  const BinaryKernels& kern = t.binary;
  const std::size_t kw = packed_words(k);

  // Rows [r0, r1) x columns [c0, c1) (c0 a multiple of kColumnUnit, or 0).
  auto block = [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
    if (b_blocked) {
      kern.gemm(a + r0 * kw, r1 - r0, b + c0 * kw, c1 - c0, kw, k, out, r0, c0);
      return;
    }
    std::vector<std::uint64_t> panel(kern.tile_cols * kw);
    for (std::size_t c = c0; c < c1; c += kern.tile_cols) {
      const std::size_t nc = std::min(kern.tile_cols, c1 - c);
      kern.pack_blocked(b + c * kw, nc, kw, panel.data());
      kern.gemm(a + r0 * kw, r1 - r0, panel.data(), nc, kw, k, out, r0, c);
    }
  };

  const std::size_t threads = static_cast<std::size_t>(get_num_threads());
  if (threads <= 1 || m * n * std::max<std::size_t>(kw, 1) < kMinParallelWordPairs) {
    block(0, m, 0, n);
    return;
  }
  // Split the columns when there are enough of them (no B panel is packed twice), else the rows.
  // A few tasks per thread balance a busy machine; tasks are claimed dynamically.
  const std::size_t col_units = ceil_div(n, kColumnUnit), row_units = ceil_div(m, kern.tile_rows);
  if (col_units >= threads || col_units >= row_units) {
    const std::size_t tasks = std::min(col_units, 4 * threads);
    const std::size_t step = ceil_div(col_units, tasks) * kColumnUnit;
    parallel_for(ceil_div(n, step), [&](std::size_t i) { block(0, m, i * step, std::min(n, (i + 1) * step)); });
  } else {
    const std::size_t tasks = std::min(row_units, b_blocked ? 4 * threads : threads);
    const std::size_t step = ceil_div(row_units, tasks) * kern.tile_rows;
    parallel_for(ceil_div(m, step), [&](std::size_t i) { block(i * step, std::min(m, (i + 1) * step), 0, n); });
  }
}

double popcount_peak(const KernelTable& t, double seconds) {
  using clock = std::chrono::steady_clock;
  const BinaryKernels& kern = t.binary;
  volatile std::uint64_t sink = 0;  // the checksums: the runs cannot be dropped
  // Seconds taken by `iters` iterations.
  auto run = [&](std::uint64_t iters) {
    const auto t0 = clock::now();
    sink = sink + kern.popcount_probe(iters, 0x9e3779b97f4a7c15u + iters);
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  const double target = seconds / 4;
  std::uint64_t iters = 64;
  double dt = run(iters);
  while (dt < target && iters < (std::uint64_t(1) << 62)) {
    iters *= 2;
    dt = run(iters);
  }
  double best = dt;
  for (int rep = 1; rep < 3; ++rep) best = std::min(best, run(iters));
  return static_cast<double>(kern.probe_macs_per_iter) * static_cast<double>(iters) / best;
}
}  // namespace fastq
