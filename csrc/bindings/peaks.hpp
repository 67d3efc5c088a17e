// The peak probes' Python face, shared by the popcount (bgemm.cpp) and FMA (float_ops.cpp) peaks.
#pragma once
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "bindings/checks.hpp"
#include "runtime/dispatch.hpp"

namespace fastq {
namespace bindings {
inline double check_seconds(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    value_error("seconds: expected a finite time > 0, got " + std::to_string(seconds));
  return seconds;
}

// {isa: peak(table, seconds)} for every ISA this CPU runs, each timed with the GIL released.
inline py::dict peaks_by_isa(double (*peak)(const KernelTable&, double), double seconds) {
  check_seconds(seconds);
  py::dict rates;
  for (const std::string& isa : available_isas()) {
    const KernelTable& t = table_for(isa);
    const double r = run_released([&] { return peak(t, seconds); });
    rates[py::str(isa)] = r;
  }
  return rates;
}
}  // namespace bindings
}  // namespace fastq
