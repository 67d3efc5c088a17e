// Binary max pooling driver (binary family, see binary_common.hpp; contract in docs/binary.md).
#pragma once
#include "runtime/binary_common.hpp"

namespace fastq {
// x: n * h * w pixels of s.cw words (public packed NHWC) -> out: n * oh * ow pixels of s.cw
// words. Every window must hold at least one input pixel.
void binary_max_pool2d(const KernelTable& t, const PoolShape& s, const std::uint64_t* x, std::uint64_t* out);
}  // namespace fastq
