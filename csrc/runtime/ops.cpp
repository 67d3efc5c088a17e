#include "runtime/ops.hpp"

#include <algorithm>
#include <vector>

#include "runtime/thread_pool.hpp"

namespace fastq {
namespace {
// Below this many elements a pass stays on the calling thread (waking a worker costs more).
constexpr std::size_t kMinParallel = std::size_t(1) << 16;
// Work pieces are multiples of this many elements (whole cache lines, whole vectors).
constexpr std::size_t kAlign = 64;
// The largest task of a region, in elements (see run_elementwise).
constexpr std::size_t kChunk = std::size_t(1) << 18;

// Split `count` items into `pieces` ranges of whole kAlign blocks that cover them all.
std::size_t aligned_step(std::size_t count, std::size_t pieces) {
  const std::size_t per = (count + pieces - 1) / pieces;
  return (per + kAlign - 1) / kAlign * kAlign;
}

std::size_t num_pieces(std::size_t n) {
  if (n < kMinParallel) return 1;
  return std::min<std::size_t>(static_cast<std::size_t>(get_num_threads()), n / (kMinParallel / 2));
}
}  // namespace

template <> const TypedKernels<float>& typed<float>(const KernelTable& t) { return t.f32; }
template <> const TypedKernels<double>& typed<double>(const KernelTable& t) { return t.f64; }

// Every parallel region below is split into tasks of at most about kChunk elements, even on
// one thread: a task is the unit of Ctrl-C polling and cancellation (runtime/thread_pool.hpp), so
// it must take at most a few milliseconds (2^18 floats: ~0.3 ms for the slowest pass, SwishSign
// backward, here; ~15 ms under qemu).
template <class T>
void run_elementwise(const KernelTable& t, int id, bool backward, const T* x, const T* dy, T* out, std::size_t rows,
                     std::size_t cols, const T* scale, const T* params) {
  const auto& k = typed<T>(t);
  const ElementwiseFn<T> fn = backward ? k.backward[id] : k.forward[id];
  const std::size_t n = rows * cols;
  const std::size_t pieces = std::max(num_pieces(n), (n + kChunk - 1) / kChunk);
  const bool stream = n * sizeof(T) * (backward ? 3 : 2) > kStreamBytes;
  if (pieces <= 1) {
    if (n) fn(x, dy, out, rows, cols, scale, params, stream);
    return;
  }
  if (rows == 1 || cols >= kChunk) {  // split each row's columns (one row per task at least)
    const std::size_t step = aligned_step(cols, rows == 1 ? pieces : (cols + kChunk - 1) / kChunk);
    const std::size_t per_row = (cols + step - 1) / step;
    parallel_for(rows * per_row, [&](std::size_t i) {
      const std::size_t r = i / per_row, c0 = std::min(cols, (i % per_row) * step), c1 = std::min(cols, c0 + step);
      const std::size_t o = r * cols + c0;
      if (c0 < c1) fn(x + o, dy ? dy + o : nullptr, out + o, 1, c1 - c0, scale ? scale + c0 : nullptr, params, stream);
    });
  } else {  // split the rows
    const std::size_t step = std::min((rows + pieces - 1) / pieces, std::max<std::size_t>(1, kChunk / cols));
    chunked_for(rows, step, [&](std::size_t r0, std::size_t r1) {
      fn(x + r0 * cols, dy ? dy + r0 * cols : nullptr, out + r0 * cols, r1 - r0, cols, scale, params, stream);
    });
  }
}

template <class T> double abs_sum(const KernelTable& t, const T* x, std::size_t n) {
  const auto& k = typed<T>(t);
  const std::size_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks <= 1) return k.abs_sum(x, n);
  std::vector<double> part(chunks);
  parallel_for(chunks, [&](std::size_t i) {
    const std::size_t a = i * kReduceChunk;
    part[i] = k.abs_sum(x + a, std::min(n - a, kReduceChunk));
  });
  double s = 0.0;
  for (double p : part) s += p;
  return s;
}

template <class T> T max_abs(const KernelTable& t, const T* x, std::size_t n) {
  const auto& k = typed<T>(t);
  const std::size_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks <= 1) return k.max_abs(x, n);
  std::vector<T> part(chunks);
  parallel_for(chunks, [&](std::size_t i) {
    const std::size_t a = i * kReduceChunk;
    part[i] = k.max_abs(x + a, std::min(n - a, kReduceChunk));
  });
  return k.max_abs(part.data(), chunks);  // |part| = part; NaN still wins
}

template <class T>
void channel_abs_mean(const KernelTable& t, const T* x, std::size_t rows, std::size_t cols, T* scale) {
  const auto& k = typed<T>(t);
  if (cols == 0) return;
  std::vector<double> acc(cols, 0.0);
  // Each column is summed in row order by exactly one task, so any split of the columns
  // gives the same sums. A task walks its rows in pieces of about kChunk elements and stops
  // early when the region is cancelled (the sums are then discarded).
  const std::size_t pieces = cols >= 2 * kAlign ? num_pieces(rows * cols) : 1;
  const std::size_t step = aligned_step(cols, pieces);
  parallel_for((cols + step - 1) / step, [&](std::size_t i) {
    const std::size_t c0 = std::min(cols, i * step), c1 = std::min(cols, c0 + step);
    const std::size_t rstep = std::max<std::size_t>(1, kChunk / std::max<std::size_t>(1, c1 - c0));
    for (std::size_t r0 = 0; r0 < rows && c0 < c1; r0 += rstep) {
      if (checkpoint()) return;
      k.col_abs_sum(x + r0 * cols + c0, std::min(rstep, rows - r0), c1 - c0, cols, acc.data() + c0);
    }
  });
  for (std::size_t c = 0; c < cols; ++c) scale[c] = static_cast<T>(acc[c] / static_cast<double>(rows));
}

template <class T> void tanh(const KernelTable& t, const T* x, T* y, std::size_t n) { typed<T>(t).tanh(x, y, n); }

namespace {
// TensorStats over one input, each statistic computed on first request (threaded, cancellable).
template <class T> class Stats final : public TensorStats<T> {
 public:
  Stats(const KernelTable& t, const T* x, std::size_t rows, std::size_t cols)
      : t_(t), x_(x), rows_(rows), cols_(cols) {}
  std::size_t size() const override { return rows_ * cols_; }
  std::size_t rows() const override { return rows_; }
  double abs_sum() override { return fastq::abs_sum<T>(t_, x_, size()); }
  T max_abs() override { return fastq::max_abs<T>(t_, x_, size()); }
  T tanh(T v) override {
    T y;
    fastq::tanh<T>(t_, &v, &y, 1);
    return y;
  }
  const T* channel_abs_mean() override {
    scale_.resize(cols_);
    fastq::channel_abs_mean<T>(t_, x_, rows_, cols_, scale_.data());
    return scale_.data();
  }

 private:
  const KernelTable& t_;
  const T* x_;
  std::size_t rows_, cols_;
  std::vector<T> scale_;
};
}  // namespace

template <class T>
void run_pass(const KernelTable& t, int id, bool backward, const T* x, const T* dy, T* out, std::size_t rows,
              std::size_t cols, const T* params_in) {
  T params[kNumParams];
  std::copy(params_in, params_in + kNumParams, params);
  Stats<T> stats(t, x, rows, cols);
  // The quantizer's whole-tensor step (csrc/quantizers/<name>.hpp); a scale means per-channel
  // rows x cols, otherwise the pass runs over the input as one row.
  const T* scale = typed<T>(t).prepare[id](stats, backward, params);
  if (scale)
    run_elementwise<T>(t, id, backward, x, dy, out, rows, cols, scale, params);
  else
    run_elementwise<T>(t, id, backward, x, dy, out, 1, rows * cols, nullptr, params);
}

#define FASTQ_INSTANTIATE(T)                                                                                 \
  template void run_pass<T>(const KernelTable&, int, bool, const T*, const T*, T*, std::size_t, std::size_t, \
                            const T*);                                                                       \
  template double abs_sum<T>(const KernelTable&, const T*, std::size_t);                                     \
  template T max_abs<T>(const KernelTable&, const T*, std::size_t);                                          \
  template void channel_abs_mean<T>(const KernelTable&, const T*, std::size_t, std::size_t, T*);             \
  template void tanh<T>(const KernelTable&, const T*, T*, std::size_t);
FASTQ_INSTANTIATE(float)
FASTQ_INSTANTIATE(double)
}  // namespace fastq
