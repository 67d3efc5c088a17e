// Everything a target TU needs from outside, included *before* its target region opens, so no
// standard-library inline function is ever compiled with SIMD flags.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "fastq/kernel_table.hpp"
#include "fastq/target.hpp"
