// The quantizers with native kernels, in table order: adding one is a line here, a file in
// csrc/quantizers/ (included from csrc/quantizers/all.hpp) and a Python class.
// DoReFa has one kernel pair per mode.
#pragma once
#define FASTQ_QUANTIZERS(X) \
  X(NoOp)                   \
  X(SteSign)                \
  X(ApproxSign)             \
  X(SteHeaviside)           \
  X(SwishSign)              \
  X(MagnitudeAwareSign)     \
  X(SteTern)                \
  X(DoReFaActivations)      \
  X(DoReFaWeights)
