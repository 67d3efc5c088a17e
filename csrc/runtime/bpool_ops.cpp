#include "runtime/bpool_ops.hpp"

#include <vector>

namespace fastq {
namespace {
// Words read below which pooling stays on the calling thread (a pass over memory).
constexpr std::size_t kMinParallelWords = std::size_t(1) << 15;
}  // namespace

void binary_max_pool2d(const KernelTable& t, const PoolShape& s, const std::uint64_t* x, std::uint64_t* out) {
  // Output rows, one range per thread (a pass over memory), each with its row buffer.
  for_unit_ranges(s.n * s.oh, s.ow * s.ph * s.pw * s.cw, kMinParallelWords, 1, 1, [&](std::size_t r0, std::size_t r1) {
    std::vector<std::uint64_t> row(s.w * s.cw);
    t.binary.max_pool(s, x, out, r0, r1, row.data());
  });
}
}  // namespace fastq
