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

template <>
const TypedKernels<float>& typed<float>(const KernelTable& t) { return t.f32; }
template <>
const TypedKernels<double>& typed<double>(const KernelTable& t) { return t.f64; }

template <class T>
void run_elementwise(const KernelTable& t, int id, bool backward, const T* x, const T* dy, T* out,
                     std::size_t rows, std::size_t cols, const T* scale, const T* params) {
  const auto& k = typed<T>(t);
  const ElementwiseFn<T> fn = backward ? k.backward[id] : k.forward[id];
  const std::size_t n = rows * cols;
  const std::size_t pieces = num_pieces(n);
  const bool stream = n * sizeof(T) * (backward ? 3 : 2) > kStreamBytes;
  if (pieces <= 1) {
    if (n) fn(x, dy, out, rows, cols, scale, params, stream);
    return;
  }
  if (rows == 1) {  // split the columns
    const std::size_t step = aligned_step(cols, pieces);
    parallel_for(pieces, [&](std::size_t i) {
      const std::size_t c0 = std::min(cols, i * step), c1 = std::min(cols, c0 + step);
      if (c0 < c1)
        fn(x + c0, dy ? dy + c0 : nullptr, out + c0, 1, c1 - c0, scale ? scale + c0 : nullptr, params, stream);
    });
  } else {  // split the rows
    const std::size_t step = (rows + pieces - 1) / pieces;
    parallel_for(pieces, [&](std::size_t i) {
      const std::size_t r0 = std::min(rows, i * step), r1 = std::min(rows, r0 + step);
      if (r0 < r1)
        fn(x + r0 * cols, dy ? dy + r0 * cols : nullptr, out + r0 * cols, r1 - r0, cols, scale, params, stream);
    });
  }
}

template <class T>
double abs_sum(const KernelTable& t, const T* x, std::size_t n) {
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

template <class T>
T max_abs(const KernelTable& t, const T* x, std::size_t n) {
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
  std::vector<double> acc(cols, 0.0);
  // Each column is summed in row order by exactly one task, so any split of the columns
  // gives the same sums.
  const std::size_t pieces = cols >= 2 * kAlign ? num_pieces(rows * cols) : 1;
  const std::size_t step = aligned_step(cols, pieces);
  parallel_for(pieces, [&](std::size_t i) {
    const std::size_t c0 = std::min(cols, i * step), c1 = std::min(cols, c0 + step);
    if (c0 < c1) k.col_abs_sum(x + c0, rows, c1 - c0, cols, acc.data() + c0);
  });
  for (std::size_t c = 0; c < cols; ++c) scale[c] = static_cast<T>(acc[c] / static_cast<double>(rows));
}

template <class T>
void tanh(const KernelTable& t, const T* x, T* y, std::size_t n) {
  typed<T>(t).tanh(x, y, n);
}

template <class T>
void run_pass(const KernelTable& t, int id, bool backward, const T* x, const T* dy, T* out, std::size_t rows,
              std::size_t cols, const T* params_in) {
  const std::size_t n = rows * cols;
  T params[kNumParams];
  std::copy(params_in, params_in + kNumParams, params);
  if (id == kMagnitudeAwareSign && rows > 1) {
    std::vector<T> scale(cols);
    channel_abs_mean<T>(t, x, rows, cols, scale.data());
    run_elementwise<T>(t, id, backward, x, dy, out, rows, cols, scale.data(), params);
    return;
  }
  if (id == kSteTern && !backward && params[3] != T(0)) {
    // larq: 0.7 * reduce_sum(|x|) / size, in the working dtype (the sum accumulated in float64).
    params[2] = (T(0.7) * static_cast<T>(abs_sum<T>(t, x, n))) / static_cast<T>(n);
  }
  if (id == kDoReFaWeights) {
    // d = max|tanh(x)| = tanh(max|x|): tanh is odd and increasing.
    const T m = max_abs<T>(t, x, n);
    tanh<T>(t, &m, &params[1], 1);
  }
  run_elementwise<T>(t, id, backward, x, dy, out, 1, n, nullptr, params);
}

#define FASTQ_INSTANTIATE(T)                                                                          \
  template void run_pass<T>(const KernelTable&, int, bool, const T*, const T*, T*, std::size_t,      \
                            std::size_t, const T*);                                                 \
  template double abs_sum<T>(const KernelTable&, const T*, std::size_t);                             \
  template T max_abs<T>(const KernelTable&, const T*, std::size_t);                                  \
  template void channel_abs_mean<T>(const KernelTable&, const T*, std::size_t, std::size_t, T*);    \
  template void tanh<T>(const KernelTable&, const T*, T*, std::size_t);
FASTQ_INSTANTIATE(float)
FASTQ_INSTANTIATE(double)
}  // namespace fastq
