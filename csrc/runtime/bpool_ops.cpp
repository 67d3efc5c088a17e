#include "runtime/bpool_ops.hpp"

namespace fastq {
namespace {
// Words read below which pooling stays on the calling thread (a pass over memory).
constexpr std::size_t kMinParallelWords = std::size_t(1) << 15;
}  // namespace

void binary_max_pool2d(const KernelTable& t, const PoolShape& s, const std::uint64_t* x, std::uint64_t* out) {
  const std::size_t pixels = s.n * s.oh * s.ow;
  for_unit_ranges(pixels, s.ph * s.pw * s.cw, kMinParallelWords, 1, 1,
                  [&](std::size_t p0, std::size_t p1) { t.binary.max_pool(s, x, out, p0, p1); });
}
}  // namespace fastq
