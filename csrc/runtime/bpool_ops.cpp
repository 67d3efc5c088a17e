#include "runtime/bpool_ops.hpp"

#include <algorithm>
#include <vector>

namespace fastq {
namespace {
// Words read below which pooling stays on the calling thread (a pass over memory).
constexpr std::size_t kMinParallelWords = std::size_t(1) << 15;
}  // namespace

void binary_max_pool2d(const KernelTable& t, const PoolShape& s, const std::uint64_t* x, std::uint64_t* out) {
  // Output rows, one range per thread (a pass over memory), each with its row buffer.
  // Words read per output row, bounded above: windows are clipped to the image (saturating: a
  // huge 'same' window must not wrap to 0). 0 only when there is no output word to write.
  const std::size_t taps_w = std::max(s.w, work_mul(s.ow, std::min(s.pw, s.w)));
  const std::size_t row_work = s.ow == 0 ? 0 : work_mul(work_mul(std::min(s.ph, s.h), taps_w), s.cw);
  for_unit_ranges(s.n * s.oh, row_work, kMinParallelWords, 1, 1, [&](std::size_t r0, std::size_t r1) {
    std::vector<std::uint64_t> row(s.w * s.cw);
    t.binary.max_pool(s, x, out, r0, r1, row.data());
  });
}
}  // namespace fastq
