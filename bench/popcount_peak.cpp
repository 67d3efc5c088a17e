// The xor + popcount peak of one core: the yardstick bench/report_binary.py divides by.
//
// Each method runs the inner step of a binary GEMM - XOR a word vector of A with one of B,
// count the ones, accumulate - on registers only (no loads, no stores), with enough independent
// accumulators to hide every latency, so its rate is the core's arithmetic limit for that
// instruction sequence. One binary MAC = one bit of one XOR. Nothing can be optimised away:
// the inputs come from the command line, an empty asm statement makes the A vectors opaque in
// every iteration (so no XOR or popcount is loop-invariant), and every count is summed into
// the printed checksum.
//
// Methods (each only where the CPU has it):
//   avx512     VPXORQ + VPOPCNTQ + VPADDQ on zmm (AVX-512 VPOPCNTDQ)
//   avx2_lut   VPXOR + nibble lookup (VPSHUFB x2, VPAND x2, VPSRLW, VPADDB x2) in bytes,
//              VPSADBW + VPADDQ every 31 steps (Mula et al.; libpopcnt's AVX2 popcount)
//   avx2_hs    VPXOR + Harley-Seal carry-save adders over 16 vectors, the lookup count of the
//              sixteens (libpopcnt's popcnt_avx2), two independent streams
//
// Built by bench/popcount_peak.py with baseline flags; SIMD code is in target attributes.
// Usage: popcount_peak SECONDS_PER_METHOD SEED  -> one line per method: name macs_per_s checksum
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kRows = 4, kCols = 4;  // 16 accumulators (the AVX-512 GEMM tile's shape)

__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) std::uint64_t avx512(std::uint64_t iters,
                                                                                     std::uint64_t seed) {
  __m512i a[kRows], b[kCols], acc[kRows][kCols];
  for (int i = 0; i < kRows; ++i) a[i] = _mm512_set1_epi64(static_cast<long long>(seed * (2 * i + 1)));
  for (int j = 0; j < kCols; ++j) b[j] = _mm512_set1_epi64(static_cast<long long>(~seed * (2 * j + 3)));
  for (auto& row : acc)
    for (auto& x : row) x = _mm512_setzero_si512();
  for (std::uint64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < kCols; ++j)
        acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_popcnt_epi64(_mm512_xor_si512(a[i], b[j])));
    for (int i = 0; i < kRows; ++i) __asm__ volatile("" : "+v"(a[i]));
  }
  __m512i s = _mm512_setzero_si512();
  for (auto& row : acc)
    for (auto& x : row) s = _mm512_add_epi64(s, x);
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, s);
  std::uint64_t r = 0;
  for (std::uint64_t v : lanes) r += v;
  return r;
}
constexpr double kAvx512MacsPerIter = kRows * kCols * 512.0;

__attribute__((target("avx2"), always_inline)) inline __m256i count_bytes(__m256i x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2,
                                       3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low4)),
                         _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
}

// 3 x 2 byte accumulators: with the table, the mask and temporaries this fills the 16 ymm.
constexpr int kLutRows = 3, kLutCols = 2, kLutSteps = 31;
__attribute__((target("avx2"), noinline)) std::uint64_t avx2_lut(std::uint64_t iters, std::uint64_t seed) {
  __m256i a[kLutRows], b[kLutCols], wide[kLutRows][kLutCols];
  for (int i = 0; i < kLutRows; ++i) a[i] = _mm256_set1_epi64x(static_cast<long long>(seed * (2 * i + 1)));
  for (int j = 0; j < kLutCols; ++j) b[j] = _mm256_set1_epi64x(static_cast<long long>(~seed * (2 * j + 3)));
  for (auto& row : wide)
    for (auto& x : row) x = _mm256_setzero_si256();
  for (std::uint64_t it = 0; it < iters; ++it) {
    __m256i acc[kLutRows][kLutCols];
    for (auto& row : acc)
      for (auto& x : row) x = _mm256_setzero_si256();
    for (int s = 0; s < kLutSteps; ++s) {
#pragma GCC unroll 16
      for (int i = 0; i < kLutRows; ++i)
#pragma GCC unroll 16
        for (int j = 0; j < kLutCols; ++j)
          acc[i][j] = _mm256_add_epi8(acc[i][j], count_bytes(_mm256_xor_si256(a[i], b[j])));
      for (int i = 0; i < kLutRows; ++i) __asm__ volatile("" : "+x"(a[i]));
    }
    for (int i = 0; i < kLutRows; ++i)
      for (int j = 0; j < kLutCols; ++j)
        wide[i][j] = _mm256_add_epi64(wide[i][j], _mm256_sad_epu8(acc[i][j], _mm256_setzero_si256()));
  }
  std::uint64_t r = 0;
  for (auto& row : wide)
    for (auto& x : row)
      r += static_cast<std::uint64_t>(_mm256_extract_epi64(x, 0) + _mm256_extract_epi64(x, 1) +
                                      _mm256_extract_epi64(x, 2) + _mm256_extract_epi64(x, 3));
  return r;
}
constexpr double kLutMacsPerIter = kLutRows * kLutCols * kLutSteps * 256.0;

#define FASTQ_CSA(h, l, a, b, c)                                              \
  do {                                                                        \
    const __m256i u_ = _mm256_xor_si256(a, b);                                \
    h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u_, c));    \
    l = _mm256_xor_si256(u_, c);                                              \
  } while (0)

constexpr int kHsStreams = 2;
__attribute__((target("avx2"), noinline)) std::uint64_t avx2_hs(std::uint64_t iters, std::uint64_t seed) {
  __m256i x[16], b[kHsStreams], total[kHsStreams], ones[kHsStreams], twos[kHsStreams], fours[kHsStreams],
      eights[kHsStreams];
  for (int i = 0; i < 16; ++i) x[i] = _mm256_set1_epi64x(static_cast<long long>(seed * (2 * i + 1)));
  for (int s = 0; s < kHsStreams; ++s) {
    b[s] = _mm256_set1_epi64x(static_cast<long long>(~seed * (2 * s + 3)));
    total[s] = ones[s] = twos[s] = fours[s] = eights[s] = _mm256_setzero_si256();
  }
  for (std::uint64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 2
    for (int s = 0; s < kHsStreams; ++s) {
      __m256i y[16], twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
      for (int i = 0; i < 16; ++i) y[i] = _mm256_xor_si256(x[i], b[s]);
      FASTQ_CSA(twos_a, ones[s], ones[s], y[0], y[1]);
      FASTQ_CSA(twos_b, ones[s], ones[s], y[2], y[3]);
      FASTQ_CSA(fours_a, twos[s], twos[s], twos_a, twos_b);
      FASTQ_CSA(twos_a, ones[s], ones[s], y[4], y[5]);
      FASTQ_CSA(twos_b, ones[s], ones[s], y[6], y[7]);
      FASTQ_CSA(fours_b, twos[s], twos[s], twos_a, twos_b);
      FASTQ_CSA(eights_a, fours[s], fours[s], fours_a, fours_b);
      FASTQ_CSA(twos_a, ones[s], ones[s], y[8], y[9]);
      FASTQ_CSA(twos_b, ones[s], ones[s], y[10], y[11]);
      FASTQ_CSA(fours_a, twos[s], twos[s], twos_a, twos_b);
      FASTQ_CSA(twos_a, ones[s], ones[s], y[12], y[13]);
      FASTQ_CSA(twos_b, ones[s], ones[s], y[14], y[15]);
      FASTQ_CSA(fours_b, twos[s], twos[s], twos_a, twos_b);
      FASTQ_CSA(eights_b, fours[s], fours[s], fours_a, fours_b);
      FASTQ_CSA(sixteens, eights[s], eights[s], eights_a, eights_b);
      total[s] = _mm256_add_epi64(total[s], _mm256_sad_epu8(count_bytes(sixteens), _mm256_setzero_si256()));
      __asm__ volatile("" : "+x"(b[s]));
    }
  }
  std::uint64_t r = 0;
  for (int s = 0; s < kHsStreams; ++s) {
    __m256i t = _mm256_add_epi64(_mm256_slli_epi64(total[s], 4), _mm256_sad_epu8(count_bytes(ones[s]), _mm256_setzero_si256()));
    t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(count_bytes(twos[s]), _mm256_setzero_si256()), 1));
    t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(count_bytes(fours[s]), _mm256_setzero_si256()), 2));
    t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_sad_epu8(count_bytes(eights[s]), _mm256_setzero_si256()), 3));
    r += static_cast<std::uint64_t>(_mm256_extract_epi64(t, 0) + _mm256_extract_epi64(t, 1) +
                                    _mm256_extract_epi64(t, 2) + _mm256_extract_epi64(t, 3));
  }
  return r;
}
constexpr double kHsMacsPerIter = kHsStreams * 16 * 256.0;

// Core clock estimate: a chain of dependent 1-cycle adds.
__attribute__((noinline)) std::uint64_t add_chain(std::uint64_t iters) {
  std::uint64_t x = iters;
  for (std::uint64_t i = 0; i < iters; ++i)
    __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
  return x;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best rate (units per second) over repeats of about `seconds` in total.
template <class F>
double best_rate(F run, double units_per_iter, double seconds, std::uint64_t* checksum) {
  std::uint64_t iters = 1000;
  for (;;) {  // calibrate: one repeat ~ seconds / 10
    const double t0 = now();
    *checksum += run(iters);
    if (now() - t0 > seconds / 40) break;
    iters *= 2;
  }
  iters *= 4;
  double best = 0;
  for (int rep = 0; rep < 10; ++rep) {
    const double t0 = now();
    *checksum += run(iters);
    const double dt = now() - t0;
    if (units_per_iter * iters / dt > best) best = units_per_iter * iters / dt;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 12345;
  std::uint64_t sum = 0;
  const double hz = best_rate([](std::uint64_t n) { return add_chain(n); }, 4.0, seconds, &sum);
  std::printf("clock_hz %.6g %llu\n", hz, static_cast<unsigned long long>(sum));
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vpopcntdq")) {
    sum = 0;
    const double r = best_rate([seed](std::uint64_t n) { return avx512(n, seed); }, kAvx512MacsPerIter, seconds, &sum);
    std::printf("avx512 %.6g %llu\n", r, static_cast<unsigned long long>(sum));
  }
  if (__builtin_cpu_supports("avx2")) {
    sum = 0;
    double r = best_rate([seed](std::uint64_t n) { return avx2_lut(n, seed); }, kLutMacsPerIter, seconds, &sum);
    std::printf("avx2_lut %.6g %llu\n", r, static_cast<unsigned long long>(sum));
    sum = 0;
    r = best_rate([seed](std::uint64_t n) { return avx2_hs(n, seed); }, kHsMacsPerIter, seconds, &sum);
    std::printf("avx2_hs %.6g %llu\n", r, static_cast<unsigned long long>(sum));
  }
  return 0;
}
