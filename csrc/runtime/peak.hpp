// Timing of the register-only peak probes (kernels/peak.hpp, kernels/fconv.hpp): one rule for
// every probe, so the popcount and FMA peaks a benchmark divides by are measured alike.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>

#include "runtime/thread_pool.hpp"

namespace fastq {
// probe(iters) runs `iters` iterations and returns a checksum (kept, so no run can be dropped).
// The iteration count doubles until one run lasts at least seconds / 4, then the best of 3 runs
// of that length: work_per_iter * iters / best seconds, on the calling thread. A run is made of
// pieces of about 10 ms (the first count that took that long) with a checkpoint after each, so
// the probe answers Ctrl-C (throws Interrupted) whatever `seconds` is.
template <class Probe> double probe_rate(Probe&& probe, double work_per_iter, double seconds) {
  using clock = std::chrono::steady_clock;
  volatile double sink = 0;
  std::uint64_t piece = 0;  // iterations per piece once known (0: a run is one piece)
  auto run = [&](std::uint64_t iters) {
    const auto t0 = clock::now();
    for (std::uint64_t done = 0; done < iters;) {
      const std::uint64_t n = piece ? std::min(piece, iters - done) : iters;
      sink = sink + static_cast<double>(probe(n));
      done += n;
      if (checkpoint()) throw Interrupted();
    }
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  std::uint64_t iters = 64;
  double dt = run(iters);
  while (dt < seconds / 4 && iters < (std::uint64_t(1) << 62)) {
    if (!piece && dt >= 0.01) piece = iters;
    iters *= 2;
    dt = run(iters);
  }
  double best = dt;
  for (int rep = 1; rep < 3; ++rep) best = std::min(best, run(iters));
  return work_per_iter * static_cast<double>(iters) / best;
}
}  // namespace fastq
