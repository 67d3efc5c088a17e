// The one dispatch point: which kernel table runs.
#pragma once
#include <string>
#include <vector>

#include "fastq/kernel_table.hpp"

namespace fastq {
// ISAs compiled into this build, best first (e.g. avx512, avx2, scalar).
std::vector<std::string> compiled_isas();
// The compiled ISAs this CPU can run, best first.
std::vector<std::string> available_isas();
// The table of a named ISA. Throws std::invalid_argument for a name that is not an ISA of this
// build, std::runtime_error for one this CPU cannot run.
const KernelTable& table_for(const std::string& isa);
// The active table, chosen once: FASTQ_FORCE_ISA if set (an unknown or unsupported name throws,
// never falls back), else the best available.
const KernelTable& active_table();
}  // namespace fastq
