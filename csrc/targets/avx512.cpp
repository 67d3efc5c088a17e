// AVX-512 table (F + BW + VL + DQ + VPOPCNTDQ; chosen at run time).
#include "fastq/prelude.hpp"
#include "runtime/tables.hpp"

FASTQ_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,bmi,bmi2,popcnt,f16c")
namespace fastq {
namespace avx512 {
#include "simd/avx512.hpp"
#include "kernels/generic.hpp"

const KernelTable& table() {
  static const KernelTable t = make_table("avx512");
  return t;
}
}  // namespace avx512
}  // namespace fastq
FASTQ_TARGET_END
