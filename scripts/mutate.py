#!/usr/bin/env python3
"""Mutation testing: plant one small, realistic bug at a time in a copy of the source tree,
rebuild, run the tests that should notice, and report the mutants that survive.

    python scripts/mutate.py --list                 # the catalogue
    python scripts/mutate.py                        # every mutant this machine can run (long)
    python scripts/mutate.py --only avx2-popsteps,ops-maxabs-combine
    python scripts/mutate.py --family python -j 1   # one family
    python scripts/mutate.py --full-suite ...       # run the whole suite per mutant (slower)
    python scripts/mutate.py --family neon --qemu   # NEON mutants on x86, under qemu-aarch64

The copy lives in a temporary folder (--workdir to keep and reuse it: incremental rebuilds);
the source tree is never modified. A mutant is "killed" when the tests fail, "survived" when
they pass, "invalid" when it does not apply or does not build. Mutants whose ISA this CPU
cannot run (NEON on x86, AVX-512 without it) are reported "not run here": run them on such a
machine, or with --qemu under qemu-aarch64 through scripts/test-aarch64.sh. A mutant known
to be equivalent (same results by construction) carries the argument in `equivalent` and is
expected to survive. Exit status 1 if any non-equivalent mutant survived.

Each entry: id, family (kernel family / ISA vocabulary / runtime / python), file, the exact
text to replace (it must occur exactly once), its replacement, the tests to run, and what the
bug would do. The first four are the kinds issue #12 found the suite missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (tests run for a mutant: the files that exercise what it touches)
T_QUANT = ["tests/test_quantizers.py", "tests/test_catches.py", "tests/test_properties.py"]
T_ISA = ["tests/test_isa.py", "tests/test_catches.py"]
T_BIN = ["tests/test_binary.py", "tests/test_binary_adversarial.py"]
T_RT = ["tests/test_threads.py", "tests/test_interrupt.py", "tests/test_catches.py", "tests/test_isa.py"]
T_PY = ["tests/test_quantizers.py", "tests/test_misuse.py", "tests/test_hostile.py"]

M = []


def mutant(id, family, file, old, new, tests, what, isa=None, equivalent=None):
    M.append(
        dict(id=id, family=family, file=file, old=old, new=new, tests=tests, what=what, isa=isa, equivalent=equivalent)
    )


# -- the four kinds issue #12 found the suite missing --------------------------------------------
mutant(
    "ops-maxabs-combine",
    "runtime",
    "csrc/runtime/ops.cpp",
    "  return k.max_abs(part.data(), chunks);  // |part| = part; NaN still wins",
    "  T m = part[0];\n  for (std::size_t i = 1; i < chunks; ++i) m = part[i] > m ? part[i] : m;\n  return m;",
    T_RT,
    "chunk maxima combined with a comparison that drops a NaN in a later chunk (DoReFa weights: one NaN "
    "instead of all)",
)
mutant(
    "avx2-popsteps",
    "avx2 vocabulary",
    "csrc/simd/avx2.hpp",
    "constexpr std::size_t kPopSteps = 31;",
    "constexpr std::size_t kPopSteps = 32;",
    T_BIN,
    "byte counters widened one step too late: 32 * 8 = 256 overflows a byte (all -1 vs all +1 rows, K >= 2048)",
    isa="avx2",
)
mutant(
    "avx2-pop32-steps",
    "avx2 vocabulary",
    "csrc/simd/avx2.hpp",
    "constexpr std::size_t kPop32Steps = kPopSteps;",
    "constexpr std::size_t kPop32Steps = kPopSteps + 1;",
    ["tests/test_conv.py"],
    "tap-word byte counters widened one step too late (a <= 32-channel convolution of 36 or more taps, every bit set)",
    isa="avx2",
)
mutant(
    "scalar-pop32-halves",
    "scalar vocabulary",
    "csrc/simd/scalar.hpp",
    "  return {acc.v + ((v + (v >> 16)) & 0x000000ff000000ffu)};",
    "  return {acc.v + ((v + (v >> 16)) & 0x000000ff000000ffu) + ((v >> 32) & 0xff)};",
    ["tests/test_conv.py"],
    "the high half's count leaks into the low half's (tap words on the scalar table)",
)
mutant(
    "avx512-pop32",
    "avx512 vocabulary",
    "csrc/simd/avx512.hpp",
    "return {_mm512_add_epi32(acc.v, _mm512_popcnt_epi32(x.v))};",
    "return {_mm512_add_epi32(acc.v, _mm512_popcnt_epi64(x.v))};",
    ["tests/test_conv.py"],
    "VPOPCNTQ for tap words: two channels' counts summed into one lane, none in the other",
    isa="avx512",
)
mutant(
    "twn-order",
    "quantizers",
    "csrc/quantizers/ste_tern.hpp",
    "p[2] = (T(0.7) * static_cast<T>(s.abs_sum())) / static_cast<T>(s.size());",
    "p[2] = T(0.7) * (static_cast<T>(s.abs_sum()) / static_cast<T>(s.size()));",
    T_QUANT,
    "TWN threshold in another order: an element exactly on Δ flips from ±1 to 0",
)
mutant(
    "eq-ignores-class",
    "python",
    "python/fastq/quantizers.py",
    "return type(self) is type(other) and self.get_config() == other.get_config()",
    "return self.get_config() == other.get_config()",
    T_PY,
    "equality ignores the class: SteSign() == SteHeaviside(), and equal objects hash differently",
)

# -- quantizer kernels (written once, all ISAs) -----------------------------------------------------
mutant(
    "ste-mask-strict",
    "quantizers",
    "csrc/quantizers/primitives.hpp",
    "return le(abs(x), clip) | gt(no_clip_flag, vconst<V>(0.0));",
    "return lt(abs(x), clip) | gt(no_clip_flag, vconst<V>(0.0));",
    T_QUANT,
    "clipped STE mask exclusive: |x| == clip gets 0 instead of dy",
)
mutant(
    "sign-zero",
    "quantizers",
    "csrc/quantizers/primitives.hpp",
    "return select(lt(x, vconst<V>(0.0)), vconst<V>(-1.0), select(ge(x, vconst<V>(0.0)), vconst<V>(1.0), x));",
    "return select(le(x, vconst<V>(0.0)), vconst<V>(-1.0), select(ge(x, vconst<V>(0.0)), vconst<V>(1.0), x));",
    T_QUANT,
    "sign(0) = -1 instead of +1",
)
mutant(
    "heaviside-zero",
    "quantizers",
    "csrc/quantizers/primitives.hpp",
    "return select(gt(x, vconst<V>(0.0)), vconst<V>(1.0), select(le(x, vconst<V>(0.0)), vconst<V>(0.0), x));",
    "return select(ge(x, vconst<V>(0.0)), vconst<V>(1.0), select(le(x, vconst<V>(0.0)), vconst<V>(0.0), x));",
    T_QUANT,
    "heaviside(0) = 1",
)
mutant(
    "approx-sign-grad",
    "quantizers",
    "csrc/quantizers/approx_sign.hpp",
    "return select(le(a, one), ((one - a) * vconst<V>(2.0)) * dy, vconst<V>(0.0));",
    "return select(lt(a, one), ((one - a) * vconst<V>(2.0)) * dy, vconst<V>(0.0));",
    T_QUANT,
    "ApproxSign's gradient mask exclusive at |x| = 1 (then -0 vs +0 ... sign of zero)",
)
mutant(
    "swish-grad-factor",
    "quantizers",
    "csrc/quantizers/swish_sign.hpp",
    "return (num * ((eh + eh) / (one_e * one_e * one_e))) * eh;",
    "return (num * (eh / (one_e * one_e * one_e))) * eh;",
    T_QUANT,
    "SwishSign gradient off by a factor 2",
)
mutant(
    "dorefa-round-up",
    "quantizers",
    "csrc/quantizers/dorefa.hpp",
    "    return round_even(c * p[0]) / p[0];",
    "    return round_even(c * p[0] + vconst<V>(1e-7)) / p[0];",
    T_QUANT,
    "DoReFa ties rounded half-up (a nudge before rounding)",
)
mutant(
    "dorefa-clip",
    "quantizers",
    "csrc/quantizers/dorefa.hpp",
    "return select(ge(x, vconst<V>(0.0)) & le(x, vconst<V>(1.0)), dy, vconst<V>(0.0));",
    "return select(gt(x, vconst<V>(0.0)) & le(x, vconst<V>(1.0)), dy, vconst<V>(0.0));",
    T_QUANT,
    "DoReFa activations' gradient mask drops x = 0",
)
mutant(
    "dorefa-weights-backward-prepare",
    "quantizers",
    "csrc/quantizers/dorefa.hpp",
    "    p[1] = s.tanh(s.max_abs());",
    "    p[1] = s.max_abs();",
    T_QUANT,
    "DoReFa weights' d = max|x| instead of tanh(max|x|)",
)
mutant(
    "mas-1d-scale",
    "quantizers",
    "csrc/quantizers/magnitude_aware_sign.hpp",
    "return s.rows() > 1 ? s.channel_abs_mean() : nullptr;",
    "return s.rows() > 0 ? s.channel_abs_mean() : nullptr;",
    T_QUANT,
    "one-row input takes the per-channel mean path instead of s = |x|",
    equivalent="for one row the channel mean is |x| itself: a float64 sum of one value divided by 1, rounded "
    "once, is exactly |x| (NaN stays NaN); only an extra pass (found surviving by a run of this script)",
)
mutant(
    "mas-two-rows",
    "quantizers",
    "csrc/quantizers/magnitude_aware_sign.hpp",
    "return s.rows() > 1 ? s.channel_abs_mean() : nullptr;",
    "return s.rows() > 2 ? s.channel_abs_mean() : nullptr;",
    T_QUANT,
    "two-row input uses s = |x| instead of the mean over both rows",
)
mutant(
    "tern-inf-threshold",
    "quantizers",
    "csrc/quantizers/ste_tern.hpp",
    "const V z = select(lt(delta, vconst<V>(INFINITY)), one, select(isnan(delta), delta, zero));",
    "const V z = select(lt(delta, vconst<V>(INFINITY)), one, one);",
    T_QUANT,
    "SteTern with Δ = NaN or inf returns numbers instead of NaN (literal formula)",
)

# -- generic kernels -----------------------------------------------------------------------------
mutant(
    "tail-buffer",
    "elementwise",
    "csrc/kernels/elementwise.hpp",
    "      std::memcpy(outr + c, bo, m * sizeof(T));",
    "      std::memcpy(outr + c, bo, (m > 1 ? m - 1 : m) * sizeof(T));",
    T_QUANT + ["tests/test_isa.py"],
    "a row's partial last vector loses its last element",
)
mutant(
    "abs-sum-tree",
    "reductions",
    "csrc/kernels/reductions.hpp",
    "    for (std::size_t j = 0; j < w; ++j) s[j] = s[j] + s[j + w];",
    "    for (std::size_t j = 0; j < w; ++j) s[j] = s[j + w] + s[j];",
    T_QUANT,
    "running sums combined with operands swapped",
    equivalent="IEEE addition is commutative: "
    "a + b and b + a are the same double, so the fixed tree gives identical sums",
)
mutant(
    "col-abs-sum-row",
    "reductions",
    "csrc/kernels/reductions.hpp",
    "  for (std::size_t r = 0; r < rows; ++r) {\n    const T* xr = x + r * stride;",
    "  for (std::size_t r = 0; r + 1 < rows; ++r) {\n    const T* xr = x + r * stride;",
    T_QUANT,
    "MagnitudeAwareSign's column sums skip the last row of each piece",
)
mutant(
    "pack-sign-bit",
    "binary packing",
    "csrc/kernels/bitpack.hpp",
    "w |= to_bits(lt(V::load(p + g * L), zero)) << (g * L);",
    "w |= to_bits(le(V::load(p + g * L), zero)) << (g * L);",
    T_BIN,
    "-0.0 and +0.0 pack as -1",
)
mutant(
    "tanh-coefficient-tiny",
    "vmath",
    "csrc/kernels/vmath.hpp",
    "1.381453825e-3, 8.368745446e-3",
    "1.381453825e-3, 8.368755446e-3",
    ["tests/test_catches.py", "tests/test_properties.py", "tests/test_isa.py"],
    "a one-digit slip in the 6th significant digit of float32 exp's r^4 coefficient",
    equivalent="|r| <= ln2/2, so the slip moves exp by at most 1e-8 * r^4 < 2e-10 relative, far below "
    "float32's 6e-8 ulp: every rounded result is unchanged (survived a run of this script)",
)
mutant(
    "tanh-coefficient",
    "vmath",
    "csrc/kernels/vmath.hpp",
    "4.166838899e-2, 1.666652113e-1",
    "4.166838899e-2, 1.666652113e-2",
    ["tests/test_catches.py", "tests/test_properties.py", "tests/test_isa.py"],
    "an exponent slip in float32 exp's r^2 coefficient (tanh, DoReFa weights, SwishSign wrong)",
)

# -- ISA vocabularies ------------------------------------------------------------------------------
mutant(
    "avx2-lt-f32",
    "avx2 vocabulary",
    "csrc/simd/avx2.hpp",
    "FASTQ_INLINE MF lt(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)};",
    "FASTQ_INLINE MF lt(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)};",
    T_ISA + T_BIN,
    "AVX2 float32 lt is <=",
    isa="avx2",
)
mutant(
    "avx2-round-f64",
    "avx2 vocabulary",
    "csrc/simd/avx2.hpp",
    "{ return {_mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};",
    "{ return {_mm256_round_pd(a.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)};",
    T_ISA,
    "AVX2 float64 rounding truncates",
    isa="avx2",
)
mutant(
    "avx2-lut",
    "avx2 vocabulary",
    "csrc/simd/avx2.hpp",
    "const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //",
    "const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 4, 4,  //",
    T_BIN,
    "a nibble popcount table entry wrong (0b1110 counted 4) in the low lane",
    isa="avx2",
)
mutant(
    "avx512-ge-f32",
    "avx512 vocabulary",
    "csrc/simd/avx512.hpp",
    "FASTQ_INLINE MF ge(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)};",
    "FASTQ_INLINE MF ge(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)};",
    T_ISA,
    "AVX-512 float32 ge is >",
    isa="avx512",
)
mutant(
    "avx512-round-f32",
    "avx512 vocabulary",
    "csrc/simd/avx512.hpp",
    "{ return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};",
    "{ return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)};",
    T_ISA,
    "AVX-512 float32 rounding rounds up",
    isa="avx512",
)
mutant(
    "avx512-pair-store-high",
    "avx512 vocabulary",
    "csrc/simd/avx512.hpp",
    "  _mm256_mask_storeu_ps(hi, m, _mm512_extractf32x8_ps(a.v, 1));",
    "  _mm256_mask_storeu_ps(hi, m, _mm512_castps512_ps256(a.v));",
    ["tests/test_float_ops.py"],
    "a narrow convolution's second pixel gets the first pixel's channels (fewer than 8 outputs)",
    isa="avx512",
)
mutant(
    "fconv-pairs-tail",
    "kernels",
    "csrc/kernels/fconv.hpp",
    "tile(std::integral_constant<std::size_t, kPairTile>{}, hi - kSpan);",
    "tile(std::integral_constant<std::size_t, kPairTile>{}, hi - kSpan - 1);",
    ["tests/test_float_ops.py"],
    "a narrow convolution's last whole tile starts one pixel early: the row's last interior pixel is never written",
)
mutant(
    "bitpack-k32-shift",
    "kernels",
    "csrc/kernels/bitpack.hpp",
    "for (std::size_t g = 0; g < 32 / L; ++g) w |= to_bits(lt(V::load(x + g * L), zero)) << (g * L);",
    "for (std::size_t g = 0; g < 32 / L; ++g) w |= to_bits(lt(V::load(x + g * L), zero)) << (g * L / 2);",
    ["tests/test_binary.py"],
    "32-value rows: the second vector's signs land on the first's bits",
)
mutant(
    "bconv-window-step",
    "kernels",
    "csrc/kernels/bconv.hpp",
    "          next += pixel_step;",
    "          next += pix;",
    ["tests/test_conv.py"],
    "the window origin moves one input pixel per output pixel whatever the stride",
)
mutant(
    "avx512-popcnt",
    "avx512 vocabulary",
    "csrc/simd/avx512.hpp",
    "return {_mm512_add_epi64(acc.v, _mm512_popcnt_epi64(x.v))};",
    "return {_mm512_add_epi64(acc.v, _mm512_popcnt_epi32(x.v))};",
    T_BIN,
    "VPOPCNTD instead of VPOPCNTQ: the high half's count lands in another lane",
    isa="avx512",
)
mutant(
    "scalar-lt",
    "scalar vocabulary",
    "csrc/simd/scalar.hpp",
    "FASTQ_INLINE Mask<T> lt(Vec<T> a, Vec<T> b) { return {a.v < b.v};",
    "FASTQ_INLINE Mask<T> lt(Vec<T> a, Vec<T> b) { return {a.v <= b.v};",
    T_QUANT + T_BIN,
    "the scalar reference's lt is <=",
)
mutant(
    "neon-popsteps",
    "neon vocabulary",
    "csrc/simd/neon.hpp",
    "constexpr std::size_t kPopSteps = 31;",
    "constexpr std::size_t kPopSteps = 33;",
    T_BIN,
    "NEON byte counters widened too late (33 * 8 > 255)",
    isa="neon",
)
mutant(
    "neon-round-f32",
    "neon vocabulary",
    "csrc/simd/neon.hpp",
    "{ return {vrndnq_f32(a.v)};",
    "{ return {vrndaq_f32(a.v)};",
    [*T_ISA, "tests/test_quantizers.py"],
    "NEON float32 rounding ties away from zero (DoReFa's k-bit levels at exact halves)",
    isa="neon",
)
mutant(
    "neon-lt-f32",
    "neon vocabulary",
    "csrc/simd/neon.hpp",
    "FASTQ_INLINE MF lt(F a, F b) { return {vcltq_f32(a.v, b.v)};",
    "FASTQ_INLINE MF lt(F a, F b) { return {vcleq_f32(a.v, b.v)};",
    T_ISA + T_BIN,
    "NEON float32 lt is <=",
    isa="neon",
)

# -- runtime: threads, chunking, streaming -------------------------------------------------------------
mutant(
    "ops-col-split",
    "runtime",
    "csrc/runtime/ops.cpp",
    "const std::size_t r = i / per_row, c0 = std::min(cols, (i % per_row) * step), c1 = std::min(cols, c0 + step);",
    "const std::size_t r = i / per_row, c0 = std::min(cols, (i % per_row) * step), c1 = std::min(cols, c0 + step - 1);",
    T_RT + ["tests/test_quantizers.py"],
    "column pieces leave one element unwritten at each boundary",
)
mutant(
    "ops-abs-sum-chunk",
    "runtime",
    "csrc/runtime/ops.cpp",
    "    part[i] = k.abs_sum(x + a, std::min(n - a, kReduceChunk));",
    "    part[i] = k.abs_sum(x + a, std::min(n - a, kReduceChunk - 1));",
    T_RT + T_QUANT,
    "each reduction chunk misses its last element (TWN threshold)",
)
mutant(
    "ops-stream-never",
    "runtime",
    "csrc/runtime/ops.cpp",
    "const bool stream = n * sizeof(T) * (backward ? 3 : 2) > kStreamBytes;",
    "const bool stream = false;",
    T_RT,
    "non-temporal stores never used",
    equivalent="streaming changes only how out is written, not its "
    "values (the elementwise loop computes every element with the same code either way); speed only",
)
mutant(
    "pool-swallow",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "      r.fail(std::current_exception());\n      return;",
    "      return;",
    ["tests/test_interrupt.py"],
    "an exception in a task is dropped: the call returns partial results",
)
mutant(
    "pool-no-poll",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "    if (owner && tl_scope && tl_scope->poll_if_due()) {",
    "    if (false && owner && tl_scope && tl_scope->poll_if_due()) {",
    ["tests/test_interrupt.py"],
    "the region never polls for Ctrl-C",
)
mutant(
    "pool-no-steal",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "      if (shares[(id + d) % parts].take_back(i)) return true;",
    "      if (false && shares[(id + d) % parts].take_back(i)) return true;",
    ["tests/test_threads.py"],
    "no thread takes a late thread's share: tasks of a helper that joins after the caller finished never run",
)
mutant(
    "pool-steal-off-by-one",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "        i = static_cast<std::size_t>(hi - 1);",
    "        i = static_cast<std::size_t>(hi - 1 - (hi - 1 > lo));",
    ["tests/test_threads.py"],
    "a task taken from the back of a share is its next-to-last: one task runs twice, another never",
)
mutant(
    "pool-max-threads",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "  if (n < 1 || n > kMaxThreads)",
    "  if (n < 1)",
    ["tests/test_interrupt.py"],
    "no upper bound on the thread count in the core",
    equivalent="the bindings check 1..kMaxThreads before calling (both _core.set_num_threads and Python's); "
    "the core check is a second line of defence no public path reaches",
)
mutant(
    "pool-resize-lock",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "  void resize(int n) { num_threads_ = n; }",
    "  void resize(int n) {\n    std::lock_guard<std::mutex> busy(busy_);\n    num_threads_ = n;\n  }",
    ["tests/test_interrupt.py"],
    "set_num_threads waits for a running region while holding the GIL: deadlock against the region's signal poll",
)
mutant(
    "pool-affinity",
    "runtime",
    "csrc/runtime/thread_pool.cpp",
    "    if (rc == 0) return count;",
    "    if (rc == 0) return count + 1;",
    ["tests/test_interrupt.py"],
    "the default thread count ignores the affinity mask (one too many)",
)

# -- runtime: task sizes (Ctrl-C in every family), pieces of a call, zero-work shortcuts -----------------
mutant(
    "bin-one-thread-direct",
    "runtime",
    "csrc/runtime/bitpack_ops.cpp",
    "  if (!parallel && total <= kMaxTaskWork) {",
    "  if (!parallel) {",
    ["tests/test_interrupt.py"],
    "a binary call on one thread runs as one uninterruptible piece (Ctrl-C noticed only at its end)",
)
mutant(
    "bin-meter-never",
    "runtime",
    "csrc/runtime/binary_common.hpp",
    "    return checkpoint();",
    "    return false;",
    ["tests/test_interrupt.py"],
    "GEMM blocks never checkpoint: a product on one thread (one task) ignores Ctrl-C",
)
mutant(
    "bin-row-piece",
    "runtime",
    "csrc/runtime/bitpack_ops.cpp",
    "    pack(x + r * k + c0, nrows, len, out + r * kw + c0 / 64);",
    "    pack(x + r * k + c0, nrows, len, out + r * kw + c0 / 64 - (c0 > 0));",
    T_BIN,
    "a row longer than one task is packed with its later pieces one word early",
)
mutant(
    "bin-block-whole",
    "runtime",
    "csrc/runtime/bitpack_ops.cpp",
    "  if (block_words <= kMaxTaskWork) {  // whole blocks per task",
    "  if (true) {  // whole blocks per task",
    ["tests/test_interrupt.py"],
    "a block of long rows is packed as one task again (Ctrl-C noticed only at its end)",
)
mutant(
    "bin-block-piece",
    "runtime",
    "csrc/runtime/bitpack_ops.cpp",
    "kw, out + blk * block_words + w0 * kBinaryBlock);",
    "kw, out + blk * block_words + w0 * kBinaryBlock - (w0 > 0));",
    T_BIN,
    "a long block's later pieces land one word early",
)
mutant(
    "window-dil-kept",
    "runtime",
    "csrc/runtime/window_axis.hpp",
    "    dil2 = span + 1;",
    "    dil2 = dil;",
    ["tests/test_conv.py"],
    "a huge 'same' dilation keeps its padded image (MemoryError again), or, with the new padding, wrong taps",
)
mutant(
    "bgemm-row-pieces",
    "runtime",
    "csrc/runtime/bgemm_ops.cpp",
    "        const std::size_t mr = std::min(r1, r + rstep) - r;",
    "        const std::size_t mr = std::min(r1, r + rstep) - r - (r + rstep < r1);",
    T_BIN,
    "each row piece of a large product but the last drops its last row",
)
mutant(
    "bgemm-k-slice",
    "runtime",
    "csrc/runtime/bgemm_ops.cpp",
    "const std::size_t k = std::min(a.k - w0 * 64, len * 64);",
    "const std::size_t k = len * 64;",
    T_BIN,
    "a product of very long rows, cut into slices of K, counts the last slice's padding bits as -1 pairs",
)
mutant(
    "bgemm-col-pieces",
    "runtime",
    "csrc/runtime/bgemm_ops.cpp",
    "    for (std::size_t c = c0; c < c1; c += cstep) {",
    "    for (std::size_t c = c0; c < c1; c += cstep + (b_blocked && cstep < c1 - c0 ? kColumnUnit : 0)) {",
    T_BIN,
    "a wide blocked product (BinaryDense) skips 64 columns after each column piece",
)
mutant(
    "bind-matmul-no-poll",
    "bindings",
    "csrc/bindings/bgemm.cpp",
    "  run_released([&] { fastq::binary_gemm(*kern.table, ap, bp, false, n, o); });",
    "  {\n    py::gil_scoped_release nogil;\n    fastq::binary_gemm(*kern.table, ap, bp, false, n, o);\n  }",
    ["tests/test_interrupt.py"],
    "binary_matmul releases the GIL without an interrupt scope (as before issue #12): Ctrl-C waits for the end",
)
mutant(
    "float-task-unbounded",
    "runtime",
    "csrc/runtime/float_ops.cpp",
    "  const std::size_t bounded = ceil_div(work, max_task);",
    "  const std::size_t bounded = 1;",
    ["tests/test_interrupt.py"],
    "a float layer (fastq.models) on one thread is one task: Ctrl-C noticed only at its end",
)
mutant(
    "py-conv-copy-first",
    "python",
    "python/fastq/conv.py",
    "    if not _is_work(x):\n        out = plan.output(x.shape, out, residual)\n",
    "",
    ["tests/test_misuse.py"],
    "a convolution converts (copies) x before checking what its shape alone decides",
)


# -- Python layer ---------------------------------------------------------------------------------------
mutant(
    "py-f16-param",
    "python",
    "python/fastq/quantizers.py",
    "    return float(rd.type(value))",
    "    return float(value)",
    T_QUANT,
    "parameters not rounded to float16 for float16 input",
)
mutant(
    "py-readonly",
    "python",
    "python/fastq/quantizers.py",
    '        if self.__dict__.get("_frozen") and not name.startswith("_"):\n            raise AttributeError(\n',
    "        if False:\n            raise AttributeError(\n",
    ["tests/test_misuse.py"],
    "parameters assignable again (the config then lies)",
)
mutant(
    "py-overlap",
    "python",
    "python/fastq/_arrays.py",
    "            if a is not out and np.may_share_memory(a, out) and _data_ptr(a) != _data_ptr(out):",
    "            if False:",
    ["tests/test_quantizers.py", "tests/test_hostile.py", "tests/test_properties.py"],
    "an out= that partially overlaps x is written in place (reads what it already wrote)",
)
mutant(
    "py-masked",
    "python",
    "python/fastq/_arrays.py",
    "    if isinstance(x, np.ma.MaskedArray):",
    "    if False:",
    ["tests/test_misuse.py"],
    "masked arrays silently computed on their hidden data",
)
mutant(
    "py-flip-ratio",
    "python",
    "python/fastq/metrics.py",
    "            self.total += 1.0 - np.count_nonzero(self._previous == v) / v.size",
    "            self.total += np.count_nonzero(self._previous == v) / v.size",
    ["tests/test_quantizers.py", "tests/test_misuse.py"],
    "FlipRatio counts the unchanged values",
)
mutant(
    "py-pack-axis",
    "python",
    "python/fastq/binary.py",
    "        x = np.moveaxis(x, axis, -1)",
    "        x = np.swapaxes(x, axis, 0)",
    T_BIN,
    "pack_bits(axis=...) moves the wrong axis",
)
mutant(
    "py-threads-env",
    "python",
    "python/fastq/_runtime.py",
    '    if not 1 <= n <= MAX_THREADS:\n        raise ValueError(f"FASTQ_NUM_THREADS',
    '    if not 1 <= n:\n        raise ValueError(f"FASTQ_NUM_THREADS',
    ["tests/test_interrupt.py", "tests/test_hostile.py"],
    "a huge FASTQ_NUM_THREADS accepted",
)


def cpu_can_run(isa):
    if isa is None:
        return True
    if isa == "neon":
        return platform.machine() in ("aarch64", "arm64")
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {"avx2": "avx2", "avx512": "avx512_vpopcntdq"}[isa] in flags


def sh(cmd, cwd, env=None, timeout=None):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def prepare_copy(work: Path):
    """The source tree (tracked files as in the working tree) copied into work/src."""
    src = work / "src"
    if src.exists():
        return src
    files = sh(["git", "ls-files", "-z"], REPO).stdout.split("\0")
    for f in filter(None, files):
        dst = src / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / f).is_file():
            shutil.copy2(REPO / f, dst)
    return src


def build(src: Path, jobs: int):
    b = src / "build"
    if not (b / "CMakeCache.txt").exists():
        pyb = sh([sys.executable, "-m", "pybind11", "--cmakedir"], src).stdout.strip()
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        r = sh(
            ["cmake", "-S", ".", "-B", "build", *gen, f"-Dpybind11_DIR={pyb}", f"-DPython_EXECUTABLE={sys.executable}"],
            src,
        )
        if r.returncode:
            return r
    return sh(["cmake", "--build", "build", "-j", str(jobs)], src)


def run_tests(src: Path, tests, timeout, full):
    env = dict(
        os.environ,
        PYTHONPATH=str(src / "python"),
        PYTHONDONTWRITEBYTECODE="1",
        FASTQ_FUZZ_CALLS=os.environ.get("FASTQ_FUZZ_CALLS", "2000"),
    )
    env.pop("FASTQ_FORCE_ISA", None)
    args = ["tests"] if full else tests
    try:
        r = sh(
            [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *args],
            src,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "killed", "tests timed out (a hang counts as caught)"
    lines = r.stdout.strip().splitlines() or [""]
    failed = [ln.split(" - ")[0] for ln in lines if ln.startswith(("FAILED", "ERROR"))][:1]
    return ("killed" if r.returncode else "survived"), " ".join([lines[-1], *failed])


def run_tests_qemu(src: Path, tests, timeout):
    """The tests under qemu-aarch64 with the copy's NEON build (scripts/test-aarch64.sh, which
    cross-compiles incrementally in src/build/aarch64-cmake)."""
    for cache in ("aarch64-debs", "aarch64-root"):  # reuse this checkout's downloads and arm64 root
        mine, theirs = src / "build" / cache, REPO / "build" / cache
        if theirs.is_dir() and not mine.exists():
            mine.parent.mkdir(parents=True, exist_ok=True)
            mine.symlink_to(theirs)
    try:
        r = sh(
            ["bash", "scripts/test-aarch64.sh", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *tests],
            src,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "killed", "tests timed out under qemu (a hang counts as caught)"
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.strip()] or [""]
    summary = [ln for ln in lines if " passed" in ln or " failed" in ln or " error" in ln][-1:] or lines[-1:]
    failed = [ln.split(" - ")[0] for ln in lines if ln.startswith(("FAILED", "ERROR"))][:1]
    return ("killed" if r.returncode else "survived"), " ".join([*summary, *failed])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--family", help="only mutants whose family contains this text")
    ap.add_argument("--workdir", help="keep the copy and its build here (reused: incremental rebuilds)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per mutant's test run")
    ap.add_argument("--full-suite", action="store_true", help="run the whole suite for each mutant")
    ap.add_argument(
        "--qemu",
        action="store_true",
        help="on a non-ARM host, run the NEON mutants under qemu-aarch64 (scripts/test-aarch64.sh in the copy; "
        "the unmutated tests run there first, as a baseline)",
    )
    a = ap.parse_args()

    chosen = M
    if a.only:
        ids = a.only.split(",")
        unknown = set(ids) - {m["id"] for m in M}
        if unknown:
            sys.exit(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        chosen = [m for m in M if m["id"] in ids]
    if a.family:
        chosen = [m for m in chosen if a.family in m["family"]]
    if a.list:
        for m in chosen:
            eq = f"  [equivalent: {m['equivalent']}]" if m["equivalent"] else ""
            print(f"{m['id']:32} {m['family']:20} {m['file']}\n    {m['what']}{eq}")
        print(f"{len(chosen)} mutants")
        return 0

    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="fastq-mutate-"))
    work.mkdir(parents=True, exist_ok=True)
    src = prepare_copy(work)
    print(f"copy: {src}", flush=True)
    host = [m for m in chosen if cpu_can_run(m["isa"])]  # the others run under qemu or not at all
    r = build(src, a.jobs) if host else None
    if r is not None and r.returncode:
        sys.exit(f"the unmutated copy does not build:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")

    results = []
    qemu_baseline = None
    for m in chosen:
        t0 = time.monotonic()
        path = src / m["file"]
        original = path.read_text()
        via_qemu = a.qemu and m["isa"] == "neon" and not cpu_can_run("neon")
        if via_qemu and qemu_baseline is None:
            qemu_baseline = run_tests_qemu(src, m["tests"], a.timeout)
            print(f"{'(qemu baseline, unmutated)':32} {qemu_baseline[1]}", flush=True)
        if via_qemu and qemu_baseline[0] != "survived":
            results.append((m, "invalid", "the unmutated tests fail under qemu: " + qemu_baseline[1], 0.0))
            continue
        if not cpu_can_run(m["isa"]) and not via_qemu:
            results.append((m, "not run here", f"this CPU cannot run {m['isa']}", 0.0))
            print(f"{m['id']:32} not run here ({m['isa']})", flush=True)
            continue
        if original.count(m["old"]) != 1:
            results.append((m, "invalid", f"the text occurs {original.count(m['old'])} times in {m['file']}", 0.0))
            print(f"{m['id']:32} invalid (text not found once)", flush=True)
            continue
        try:
            path.write_text(original.replace(m["old"], m["new"]))
            if via_qemu:  # NEON code is built only for aarch64: the script rebuilds it
                status, detail = run_tests_qemu(src, m["tests"], a.timeout)
            elif m["file"].startswith("csrc/"):
                r = build(src, a.jobs)
                if r.returncode:
                    status, detail = "invalid", "does not build: " + (r.stdout + r.stderr)[-400:]
                else:
                    status, detail = run_tests(src, m["tests"], a.timeout, a.full_suite)
            else:
                status, detail = run_tests(src, m["tests"], a.timeout, a.full_suite)
        finally:
            path.write_text(original)
            os.utime(path)  # newer than the mutated build: the next build restores the object
        dt = time.monotonic() - t0
        results.append((m, status, detail, dt))
        flag = " (equivalent, as argued)" if status == "survived" and m["equivalent"] else ""
        print(f"{m['id']:32} {status}{flag}  [{dt:.0f} s] {detail}", flush=True)
    if any(m["file"].startswith("csrc/") for m in host):
        build(src, a.jobs)  # leave the reusable copy built unmutated

    print("\nsummary")
    bad = []
    for m, status, _detail, _dt in results:
        print(f"  {m['id']:32} {m['family']:20} {status}")
        if status == "survived" and not m["equivalent"]:
            bad.append(m["id"])
        if status == "invalid":
            bad.append(m["id"])
    counts = {
        s: sum(1 for _, st, _, _ in results if st == s) for s in ("killed", "survived", "invalid", "not run here")
    }
    print("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if bad:
        print("  not killed (and not argued equivalent) or invalid: " + ", ".join(bad))
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
