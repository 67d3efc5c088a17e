// AVX2 table (x86-64 with AVX2 + FMA + BMI2 + POPCNT; chosen at run time).
#include "fastq/prelude.hpp"
#include "runtime/tables.hpp"

FASTQ_TARGET_BEGIN("avx2,fma,bmi,bmi2,popcnt,f16c")
namespace fastq {
namespace avx2 {
#include "simd/avx2.hpp"
#include "kernels/generic.hpp"

const KernelTable& table() {
  static const KernelTable t = make_table("avx2");
  return t;
}
}  // namespace avx2
}  // namespace fastq
FASTQ_TARGET_END
