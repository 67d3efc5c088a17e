#include "runtime/bconv_ops.hpp"

#include <cstring>
#include <vector>

#include "runtime/bitpack_ops.hpp"

namespace fastq {
namespace {
// As bgemm_ops: below about this many word pairs, one thread.
constexpr std::size_t kMinParallelWordPairs = std::size_t(1) << 19;
}  // namespace

void conv_weights(const KernelTable& t, const std::uint64_t* words, std::size_t o, std::size_t groups, std::size_t kh,
                  std::size_t kw, std::size_t cg, std::uint64_t* blocked, std::int32_t* prefix) {
  const std::size_t cgw = packed_words(cg), row = kh * kw * cgw, og = o / groups;
  for (std::size_t g = 0; g < groups; ++g)
    pack_blocked(t, words + g * og * row, og, row, blocked + g * blocked_words(og, row));
  const std::size_t w1 = kw + 1;
  std::memset(prefix, 0, (kh + 1) * w1 * o * sizeof(std::int32_t));
  for (std::size_t ky = 0; ky < kh; ++ky)
    for (std::size_t kx = 0; kx < kw; ++kx) {
      std::int32_t* p = prefix + ((ky + 1) * w1 + kx + 1) * o;
      const std::int32_t *up = prefix + (ky * w1 + kx + 1) * o, *left = prefix + ((ky + 1) * w1 + kx) * o;
      const std::int32_t* diag = prefix + (ky * w1 + kx) * o;
      for (std::size_t j = 0; j < o; ++j) {
        const std::uint64_t* tap = words + j * row + (ky * kw + kx) * cgw;
        long long ones = 0;
        for (std::size_t i = 0; i < cgw; ++i) ones += __builtin_popcountll(tap[i]);
        const auto sum = static_cast<std::int32_t>(static_cast<long long>(cg) - 2 * ones);  // sum of sign(w)
        p[j] = sum + up[j] + left[j] - diag[j];
      }
    }
}

void binary_conv2d(const KernelTable& t, const ConvShape& s, const std::uint64_t* x, const std::uint64_t* w_blocked,
                   const BinaryOut& out) {
  const std::size_t pixels = s.n * s.oh * s.ow;
  if (pixels == 0 || s.o == 0) return;
  if (out.kind == BinaryOutKind::signs) std::memset(out.data, 0, pixels * out.ld * sizeof(std::uint64_t));
  const std::size_t row = s.kh * s.kw * s.cgw, chunk = conv_chunk_rows(row);
  const std::size_t work = s.o * (row ? row : 1);
  // Pixel ranges of whole register tiles (8 is a multiple of every table's tile rows), a few
  // per thread; each range has its own im2col buffer.
  for_unit_ranges(pixels, work, kMinParallelWordPairs, 8, 4, [&](std::size_t p0, std::size_t p1) {
    thread_local std::vector<std::uint64_t> scratch;
    if (scratch.size() < chunk * row) scratch.resize(chunk * row);
    t.binary.conv(s, x, w_blocked, p0, p1, out, scratch.data());
  });
}
}  // namespace fastq
