#include "runtime/dispatch.hpp"

#include <cstdlib>
#include <stdexcept>

#include "runtime/cpu.hpp"
#include "runtime/tables.hpp"

namespace fastq {
namespace {
struct Entry {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)();
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> e = {
#if defined(FASTQ_HAVE_X86)
      {"avx512", &avx512::table, [] { return cpu_features().avx512; }},
      {"avx2", &avx2::table, [] { return cpu_features().avx2; }},
#elif defined(FASTQ_HAVE_NEON)
      {"neon", &neon::table, [] { return cpu_features().neon; }},
#endif
      {"scalar", &scalar::table, [] { return true; }},
  };
  return e;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const KernelTable& choose() {
  const char* forced = std::getenv("FASTQ_FORCE_ISA");
  if (forced && *forced) return table_for(forced);
  for (const auto& e : entries())
    if (e.supported()) return e.table();
  return scalar::table();
}
}  // namespace

std::vector<std::string> compiled_isas() {
  std::vector<std::string> v;
  for (const auto& e : entries()) v.push_back(e.name);
  return v;
}

std::vector<std::string> available_isas() {
  std::vector<std::string> v;
  for (const auto& e : entries())
    if (e.supported()) v.push_back(e.name);
  return v;
}

const KernelTable& table_for(const std::string& isa) {
  for (const auto& e : entries()) {
    if (isa != e.name) continue;
    if (!e.supported())
      throw std::runtime_error(
          "ISA '" + isa + "' is compiled in but this CPU cannot run it (available: " + join(available_isas()) + ")");
    return e.table();
  }
  const bool known = isa == "scalar" || isa == "avx2" || isa == "avx512" || isa == "neon";
  throw std::invalid_argument("ISA '" + isa + "' " +
                              (known ? "is not compiled into this build" : "is not an ISA fastq knows") +
                              " (expected one of: " + join(compiled_isas()) + ")");
}

const KernelTable& active_table() {
  static const KernelTable& t = choose();
  return t;
}
}  // namespace fastq
