// The scalar reference table: one lane, baseline flags, no target region.
#include "fastq/prelude.hpp"
#include "runtime/tables.hpp"

namespace fastq {
namespace scalar {
#include "simd/scalar.hpp"
#include "kernels/generic.hpp"

const KernelTable& table() {
  static const KernelTable t = make_table("scalar");
  return t;
}
}  // namespace scalar
}  // namespace fastq
