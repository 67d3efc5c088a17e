// What the running CPU (and OS) can execute.
#pragma once

namespace fastq {
struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + BMI1/2 + POPCNT, with the OS saving ymm state
  bool avx512 = false;  // AVX-512 F + BW + VL + DQ + VPOPCNTDQ, with the OS saving zmm state
  bool neon = false;    // aarch64 Advanced SIMD (always present there)
};
const CpuFeatures& cpu_features();
}  // namespace fastq
