#include "runtime/float_ops.hpp"

#include "runtime/peak.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "runtime/tables.hpp"
#include "runtime/thread_pool.hpp"
#include "runtime/window_axis.hpp"

namespace fastq {
namespace {
// Below this many multiply-adds (or elements moved, for the memory-bound ops) an op stays on the
// calling thread: waking a worker costs tens of microseconds on a VM.
constexpr std::size_t kMinParallelWork = std::size_t(1) << 18;
constexpr std::size_t kMinParallelElems = std::size_t(1) << 16;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// The most work one task does (multiply-adds, or elements moved): well under a millisecond on
// one core. A task is the unit of Ctrl-C polling (runtime/thread_pool.hpp), so a long op is cut
// into such tasks even on one thread.
constexpr std::size_t kMaxTaskMacs = std::size_t(1) << 23;
constexpr std::size_t kMaxTaskElems = std::size_t(1) << 20;

// Tasks wanted for `work`: one when small (or single-threaded and at most one task's worth),
// else a few per thread (tasks are claimed dynamically, which balances a machine whose cores
// are busy with other work), and always enough that none does more than max_task.
std::size_t tasks_for(std::size_t work, std::size_t min_work, std::size_t max_task) {
  const std::size_t threads = static_cast<std::size_t>(get_num_threads());
  const std::size_t bounded = ceil_div(work, max_task);
  if (threads <= 1 || work < min_work) return bounded;
  return std::max(bounded, std::min<std::size_t>(4 * threads, work / (min_work / 2)));
}

// Split rows x cols (x blocks) into about `want` rectangles and run fn(r0, r1, c0, c1, b0, b1).
template <class F> void split_3d(std::size_t rows, std::size_t cols, std::size_t blocks, std::size_t want, F&& fn) {
  if (rows == 0 || cols == 0 || blocks == 0) return;
  if (want <= 1) {
    fn(0, rows, 0, cols, 0, blocks);
    return;
  }
  const std::size_t rp = std::min(rows, want);
  std::size_t rest = ceil_div(want, rp);
  const std::size_t cp = std::min(ceil_div(cols, 8), rest);  // columns: pieces of >= 8 pixels
  rest = ceil_div(rest, std::max<std::size_t>(cp, 1));
  const std::size_t bp = std::min(blocks, rp * cp >= want ? std::size_t(1) : rest);
  const std::size_t rs = ceil_div(rows, rp), cs = ceil_div(cols, std::max<std::size_t>(cp, 1));
  const std::size_t bs = ceil_div(blocks, bp);
  const std::size_t nr = ceil_div(rows, rs), nc = ceil_div(cols, cs), nb = ceil_div(blocks, bs);
  parallel_for(nr * nc * nb, [&](std::size_t i) {
    const std::size_t bi = i % nb, ci = (i / nb) % nc, ri = i / (nb * nc);
    fn(ri * rs, std::min(rows, (ri + 1) * rs), ci * cs, std::min(cols, (ci + 1) * cs), bi * bs,
       std::min(blocks, (bi + 1) * bs));
  });
}
}  // namespace

const KernelTable& fit_table(const KernelTable& t, std::size_t channels) {
#if defined(FASTQ_HAVE_X86)
  if (std::strcmp(t.isa, "avx512") == 0 && channels % 16 != 0 && channels % 8 == 0 && channels < 64)
    return avx2::table();
#endif
  (void)channels;
  return t;
}

const KernelTable& fit_conv_table(const KernelTable& t, std::size_t o, std::size_t c, const Window& win) {
#if defined(FASTQ_HAVE_X86)
  if (std::strcmp(t.isa, "avx512") == 0 && conv_pairs_fit(t.fl.lanes, o, c, win.kw, win.sw, win.dw)) return t;
#endif
  return fit_table(t, o);
}

void window_dim(std::size_t in, std::size_t k, std::size_t s, std::size_t d, Padding p, std::size_t* out,
                std::size_t* before, std::size_t* dil) {
  const WindowAxis a = window_axis(in, k, s, d, p == Padding::same);
  *out = a.out, *before = a.pad;
  if (dil) *dil = a.dil;
}

ConvGeom conv_geom(std::size_t h, std::size_t w, std::size_t c, std::size_t o, const Window& win) {
  ConvGeom g{};
  g.h = h;
  g.w = w;
  g.c = c;
  g.kh = win.kh;
  g.kw = win.kw;
  g.o = o;
  g.sh = win.sh;
  g.sw = win.sw;
  window_dim(h, win.kh, win.sh, win.dh, win.padding, &g.oh, &g.pt, &g.dh);
  window_dim(w, win.kw, win.sw, win.dw, win.padding, &g.ow, &g.pl, &g.dw);
  return g;
}

std::size_t conv_packed_size(const KernelTable& t, std::size_t taps, std::size_t o) {
  return taps * ceil_div(o, t.fl.lanes) * t.fl.lanes;
}

void conv_pack(const KernelTable& t, const float* w, std::size_t taps, std::size_t o, float* out) {
  t.fl.conv_pack(w, taps, o, out);
}

void conv2d(const KernelTable& t, const float* x, std::size_t n, const ConvGeom& g0, const float* packed,
            const FloatEpilogue& e, float* y) {
  ConvGeom g = g0;
  std::size_t rows = n * g.oh;
  // A 1x1, stride-1, unpadded convolution is a matrix product over all pixels: one long row,
  // so tiles never stop at the end of an image row.
  if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0) {
    g.w = g.ow = n * g.h * g.w;
    g.h = g.oh = 1;
    rows = 1;
  }
  const std::size_t blocks = ceil_div(g.o, t.fl.block);
  const std::size_t macs = rows * g.ow * g.o * g.kh * g.kw * g.c;
  split_3d(rows, g.ow, blocks, tasks_for(macs, kMinParallelWork, kMaxTaskMacs),
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, std::size_t b0, std::size_t b1) {
             t.fl.conv(x, packed, g, e, y, r0, r1, c0, c1, b0, b1);
           });
}

void depthwise2d(const KernelTable& t0, const float* x, std::size_t n, const ConvGeom& g, const float* w,
                 const FloatEpilogue& e, float* y) {
  const KernelTable& t = fit_table(t0, g.c);
  const std::size_t work = n * g.oh * g.ow * g.c * g.kh * g.kw;
  split_3d(n * g.oh, g.ow, 1, tasks_for(work, kMinParallelWork, kMaxTaskMacs),
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, std::size_t, std::size_t) {
             t.fl.depthwise(x, w, g, e, y, r0, r1, c0, c1);
           });
}

void max_pool2d(const KernelTable& t0, const float* x, std::size_t n, const ConvGeom& g, bool relu, float* y) {
  const KernelTable& t = fit_table(t0, g.c);
  const std::size_t work = n * g.oh * g.ow * g.c * g.kh * g.kw;
  split_3d(n * g.oh, g.ow, 1, tasks_for(work, kMinParallelWork, kMaxTaskMacs),
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, std::size_t, std::size_t) {
             t.fl.max_pool(x, g, relu, y, r0, r1, c0, c1);
           });
}

void avg_pool2d(const KernelTable& t0, const float* x, std::size_t n, const ConvGeom& g, float* y) {
  const KernelTable& t = fit_table(t0, g.c);
  const std::size_t work = n * g.oh * g.ow * g.c * g.kh * g.kw;
  split_3d(n * g.oh, g.ow, 1, tasks_for(work, kMinParallelWork, kMaxTaskMacs),
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, std::size_t, std::size_t) {
             t.fl.avg_pool(x, g, y, r0, r1, c0, c1);
           });
}

void global_avg_pool(const KernelTable& t, const float* x, std::size_t n, std::size_t pixels, std::size_t c, float* y) {
  // Images split over threads; one image's channels are independent too, but its sums are
  // small (49 pixels in the zoo), so one image stays on one thread.
  split_3d(n, 1, 1, tasks_for(n * pixels * c, kMinParallelElems, kMaxTaskElems),
           [&](std::size_t i0, std::size_t i1, std::size_t, std::size_t, std::size_t, std::size_t) {
             t.fl.global_avg_pool(x, pixels, c, y, i0, i1);
           });
}

void add(const KernelTable& t, const float* a, const float* b, float* y, std::size_t count, bool relu) {
  const std::size_t pieces = tasks_for(count, kMinParallelElems, kMaxTaskElems);
  if (pieces <= 1) {
    t.fl.add(a, b, y, count, relu);
    return;
  }
  const std::size_t step = ceil_div(ceil_div(count, pieces), 64) * 64;
  parallel_for(ceil_div(count, step), [&](std::size_t i) {
    const std::size_t i0 = i * step, i1 = std::min(count, i0 + step);
    t.fl.add(a + i0, b + i0, y + i0, i1 - i0, relu);
  });
}

void affine(const KernelTable& t, const float* x, const float* scale, const float* bias, const float* res, bool relu,
            float* y, std::size_t rows, std::size_t c) {
  split_3d(rows, 1, 1, tasks_for(rows * c, kMinParallelElems, kMaxTaskElems),
           [&](std::size_t r0, std::size_t r1, std::size_t, std::size_t, std::size_t, std::size_t) {
             t.fl.affine(x + r0 * c, scale, bias, res ? res + r0 * c : nullptr, relu, y + r0 * c, r1 - r0, c);
           });
}

void softmax(const KernelTable& t, const float* x, float* y, std::size_t rows, std::size_t n) {
  split_3d(rows, 1, 1, tasks_for(rows * n, kMinParallelElems, kMaxTaskElems),
           [&](std::size_t r0, std::size_t r1, std::size_t, std::size_t, std::size_t, std::size_t) {
             t.fl.softmax(x + r0 * n, y + r0 * n, r1 - r0, n);
           });
}

double fma_peak(const KernelTable& t, double seconds) {
  return probe_rate([&](std::uint64_t iters) { return t.fl.fma_probe(iters, iters); },
                    static_cast<double>(t.fl.probe_flops_per_iter), seconds);
}
}  // namespace fastq
