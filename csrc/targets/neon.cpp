// NEON table (aarch64, where NEON is baseline: no target region needed).
#include "fastq/prelude.hpp"
#include "runtime/tables.hpp"

namespace fastq {
namespace neon {
#include "simd/neon.hpp"
#include "kernels/generic.hpp"

const KernelTable& table() {
  static const KernelTable t = make_table("neon");
  return t;
}
}  // namespace neon
}  // namespace fastq
