#include "runtime/bgemm_ops.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "runtime/peak.hpp"
#include "runtime/thread_pool.hpp"

namespace fastq {
namespace {
// Below this many word pairs (m * n * kw) a product stays on the calling thread: about 10 us of
// AVX-512 work, where waking a worker starts to pay off (measured in bench/bench_binary.py).
constexpr std::size_t kMinParallelWordPairs = std::size_t(1) << 19;
// Column splits are whole output words, so no two tasks write the same packed output word.
constexpr std::size_t kColumnUnit = 64;

// The float the output transform computes for dot d (kernel_table.hpp, BinaryOut): two
// roundings, no FMA (the build uses -ffp-contract=off; float is IEEE binary32 on every target).
float affine_value(long long d, float scale, float bias, bool relu) {
  if (relu && d < 0) d = 0;
  const float p = static_cast<float>(d) * scale;
  return p + bias;
}

// One register tile over all of K is one kernel call; past this many word pairs (tens of ms on
// the scalar table) K is cut into slices instead, so a call with rows of GBs answers Ctrl-C.
constexpr std::size_t kMaxTileCallWork = 16 * kMaxTaskWork;

// Rows [r0, r1) x columns [c0, c1) of a product whose register tile over K would be longer than
// kMaxTileCallWork: per tile, K in slices whose A rows and B columns are copied into small
// panels, the slices' dots (each k_slice - 2 * popcount, padding bits zero in both operands)
// summed in int32 and then transformed as the kernels do (kernel_table.hpp, BinaryOut; the same
// two roundings as affine_value). Returns false when cancelled.
bool sliced_block(const KernelTable& t, const PackedRows& a, const std::uint64_t* b, bool b_blocked,
                  const BinaryOut& out, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  const BinaryKernels& kern = t.binary;
  const std::size_t kw = a.kw, tr = kern.tile_rows, tc = kern.tile_cols;
  const std::size_t slice = std::max<std::size_t>(1, kMaxTaskWork / (tr * tc));  // panels of a few MB at most
  std::vector<std::uint64_t> arows(tr * slice), panel(tc * slice);
  std::vector<std::int32_t> part(tr * tc), sum(tr * tc);
  TaskMeter meter;
  for (std::size_t c = c0; c < c1; c += tc) {
    const std::size_t nc = std::min(tc, c1 - c);
    for (std::size_t r = r0; r < r1; r += tr) {
      const std::size_t mr = std::min(tr, r1 - r);
      std::fill(sum.begin(), sum.end(), 0);
      for (std::size_t w0 = 0; w0 < kw; w0 += slice) {
        const std::size_t len = std::min(slice, kw - w0);
        const std::size_t k = std::min(a.k - w0 * 64, len * 64);  // the last slice ends at k
        for (std::size_t i = 0; i < mr; ++i)
          std::memcpy(arows.data() + i * len, a.row(r + i) + w0, len * sizeof(std::uint64_t));
        if (b_blocked)  // block j's words [w0, w0 + len) are contiguous: len * 8 words at w0 * 8
          for (std::size_t j = 0; j < ceil_div(nc, kBinaryBlock); ++j)
            std::memcpy(panel.data() + j * kBinaryBlock * len, b + (c + j * kBinaryBlock) * kw + w0 * kBinaryBlock,
                        len * kBinaryBlock * sizeof(std::uint64_t));
        else
          kern.pack_blocked(b + c * kw + w0, nc, len, kw, panel.data());
        const BinaryOut dots{BinaryOutKind::dots, part.data(), tc, nullptr, nullptr, false, nullptr, nullptr, nullptr};
        kern.gemm(PackedRows{arows.data(), mr, k, len}, panel.data(), nc, dots, 0, 0);
        for (std::size_t i = 0; i < mr; ++i)
          for (std::size_t j = 0; j < nc; ++j) sum[i * tc + j] += part[i * tc + j];
        if (meter.spend(mr * nc * len)) return false;
      }
      for (std::size_t i = 0; i < mr; ++i) {
        const std::int32_t* d = sum.data() + i * tc;
        const std::size_t row = r + i;
        if (out.kind == BinaryOutKind::dots) {
          std::memcpy(static_cast<std::int32_t*>(out.data) + row * out.ld + c, d, nc * sizeof(std::int32_t));
        } else if (out.kind == BinaryOutKind::affine) {
          float* y = static_cast<float*>(out.data) + row * out.ld + c;
          const float* res = out.residual ? out.residual + row * out.ld + c : nullptr;
          for (std::size_t j = 0; j < nc; ++j) {
            const float q = affine_value(d[j], out.scale[c + j], out.bias[c + j], out.relu);
            y[j] = res ? q + res[j] : q;
          }
        } else {  // signs: ORed into words zeroed by the caller
          std::uint64_t* bits = static_cast<std::uint64_t*>(out.data) + row * out.ld;
          for (std::size_t j = 0; j < nc; ++j) {
            const std::size_t col = c + j;
            const bool neg =
                static_cast<std::uint32_t>(d[j]) - static_cast<std::uint32_t>(out.lo[col]) <= out.span[col];
            bits[col / 64] |= static_cast<std::uint64_t>(neg) << (col % 64);
          }
        }
      }
    }
  }
  return true;
}
}  // namespace

void binary_gemm(const KernelTable& t, const PackedRows& a, const std::uint64_t* b, bool b_blocked, std::size_t n,
                 const BinaryOut& out) {
  const std::size_t m = a.rows, kw = a.kw;
  if (m == 0 || n == 0) return;
  const BinaryKernels& kern = t.binary;
  const std::size_t kwp = std::max<std::size_t>(kw, 1);  // K = 0 still writes every output

  // Rows [r0, r1) x columns [c0, c1) (c0 a multiple of kColumnUnit, or 0), in kernel calls of at
  // most about kMaxTaskWork word pairs (whole register tiles, whole output words), checkpointed
  // every kMaxTaskWork: a block may be a whole call's work, and must still answer Ctrl-C.
  auto block = [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
    // Columns per kernel call: public B, one register tile (packed into a panel that stays in
    // L1); blocked B, all, or as many whole output words as keep a call over all the block's rows
    // within kMaxTaskWork (the kernel streams A past each B panel: a call over few rows would
    // stream all of B once per call instead). Rows: all, or whole register tiles that keep a call
    // within kMaxTaskWork.
    const std::size_t rows = r1 - r0;
    std::size_t cstep = b_blocked ? c1 - c0 : kern.tile_cols;
    if (b_blocked && work_mul(work_mul(cstep, kwp), rows) > kMaxTaskWork)
      cstep = std::max(kColumnUnit, kMaxTaskWork / work_mul(kwp, rows) / kColumnUnit * kColumnUnit);
    const std::size_t rstep =
        std::max(kern.tile_rows, kMaxTaskWork / work_mul(cstep, kwp) / kern.tile_rows * kern.tile_rows);
    TaskMeter meter;
    if (out.kind == BinaryOutKind::signs) {  // the kernels OR bits into zeroed words
      const std::size_t w0 = c0 / 64, w1 = ceil_div(c1, 64);
      auto* o = static_cast<std::uint64_t*>(out.data);
      for (std::size_t r = r0; r < r1; ++r) {
        if (meter.spend(w1 - w0)) return;
        std::memset(o + r * out.ld + w0, 0, (w1 - w0) * sizeof(std::uint64_t));
      }
    }
    if (work_mul(kern.tile_rows * kern.tile_cols, kwp) > kMaxTileCallWork) {
      sliced_block(t, a, b, b_blocked, out, r0, r1, c0, c1);
      return;
    }
    std::vector<std::uint64_t> panel(b_blocked ? 0 : kern.tile_cols * kw);
    for (std::size_t c = c0; c < c1; c += cstep) {
      const std::size_t nc = std::min(cstep, c1 - c);
      const std::uint64_t* bp = b + c * kw;  // blocked: c is a multiple of kBinaryBlock
      if (!b_blocked) {
        kern.pack_blocked(bp, nc, kw, kw, panel.data());
        bp = panel.data();
      }
      for (std::size_t r = r0; r < r1; r += rstep) {
        const std::size_t mr = std::min(r1, r + rstep) - r;
        kern.gemm(PackedRows{a.row(r), mr, a.k, kw}, bp, nc, out, r, c);
        if (meter.spend(mr * nc * kwp)) return;
      }
    }
  };

  const std::size_t threads = static_cast<std::size_t>(get_num_threads());
  const std::size_t work = work_mul(work_mul(m, n), kwp);
  if (work <= kMaxTaskWork && (threads <= 1 || work < kMinParallelWordPairs)) {
    block(0, m, 0, n);  // too small for a region (and for a checkpoint to matter)
    return;
  }
  if (threads <= 1) {  // one task, in a region: its checkpoints answer Ctrl-C
    parallel_for(1, [&](std::size_t) { block(0, m, 0, n); });
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

void binary_thresholds(const float* scale, const float* bias, bool relu, std::size_t n, std::size_t k, std::int32_t* lo,
                       std::uint32_t* span) {
  const long long K = static_cast<long long>(k);
  for (std::size_t j = 0; j < n; ++j) {
    auto neg = [&](long long d) { return affine_value(d, scale[j], bias[j], relu) < 0; };
    const bool at_lo = neg(-K), at_hi = neg(K);
    long long first = K + 1, last = K;  // the interval [first, last]; empty by default
    if (at_lo && at_hi) {
      first = -K;
    } else if (at_lo) {         // non-increasing: the last negative d
      long long a = -K, b = K;  // neg(a), !neg(b)
      while (b - a > 1) {
        const long long mid = a + (b - a) / 2;
        (neg(mid) ? a : b) = mid;
      }
      first = -K, last = a;
    } else if (at_hi) {         // non-decreasing: the first negative d
      long long a = -K, b = K;  // !neg(a), neg(b)
      while (b - a > 1) {
        const long long mid = a + (b - a) / 2;
        (neg(mid) ? b : a) = mid;
      }
      first = b;
    }
    lo[j] = static_cast<std::int32_t>(first);
    span[j] = first > last ? 0u : static_cast<std::uint32_t>(last - first);
  }
}

double popcount_peak(const KernelTable& t, double seconds) {
  const BinaryKernels& kern = t.binary;
  return probe_rate([&](std::uint64_t iters) { return kern.popcount_probe(iters, 0x9e3779b97f4a7c15u + iters); },
                    static_cast<double>(kern.probe_macs_per_iter), seconds);
}
}  // namespace fastq
