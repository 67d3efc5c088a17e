// Target regions: each csrc/targets/<isa>.cpp includes the standard headers first (baseline
// code), then opens a target region and a namespace of its own, then includes the generic
// kernels. Inline functions instantiated inside the region live in that ISA's namespace, so
// the linker can never hand baseline code an AVX copy of a shared inline function.
#pragma once

#define FASTQ_STRINGIFY_(x) #x
#define FASTQ_STRINGIFY(x) FASTQ_STRINGIFY_(x)

#if defined(__clang__)
#define FASTQ_TARGET_BEGIN(features) \
  _Pragma(FASTQ_STRINGIFY(clang attribute push(__attribute__((target(features))), apply_to = function)))
#define FASTQ_TARGET_END _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define FASTQ_TARGET_BEGIN(features) _Pragma("GCC push_options") _Pragma(FASTQ_STRINGIFY(GCC target(features)))
#define FASTQ_TARGET_END _Pragma("GCC pop_options")
#else
#error "fastq needs GCC or clang"
#endif

#define FASTQ_INLINE inline __attribute__((always_inline))
