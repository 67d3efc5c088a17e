// The Python object `_core.Kernels`: one ISA's kernel table (module.cpp defines the class,
// binary.cpp adds the packed-bit methods).
#pragma once
#include "fastq/kernel_table.hpp"

namespace fastq {
struct Kernels { const KernelTable* table; };
}  // namespace fastq
