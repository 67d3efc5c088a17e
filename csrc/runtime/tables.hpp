// The kernel tables compiled into this build, one per csrc/targets/<isa>.cpp.
#pragma once
#include "fastq/kernel_table.hpp"

namespace fastq {
namespace scalar {
const KernelTable& table();
}
#if defined(__x86_64__) || defined(_M_X64)
#define FASTQ_HAVE_X86 1
namespace avx2 {
const KernelTable& table();
}
namespace avx512 {
const KernelTable& table();
}
#elif defined(__aarch64__)
#define FASTQ_HAVE_NEON 1
namespace neon {
const KernelTable& table();
}
#endif
}  // namespace fastq
