// All generic kernel code, compiled once per ISA: each csrc/targets/<isa>.cpp includes its
// vector vocabulary and then this file inside its own namespace and target region.
#include "kernels/vmath.hpp"
#include "quantizers/all.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/reductions.hpp"
#include "kernels/bitpack.hpp"
#include "kernels/peak.hpp"
#include "kernels/bgemm.hpp"
#include "kernels/bconv.hpp"
#include "kernels/bpool.hpp"
#include "kernels/fconv.hpp"
#include "kernels/fpool.hpp"

inline BinaryKernels make_binary_kernels() {
  BinaryKernels b{};
  b.tile_rows = kBgemmRows;
  b.tile_cols = kTileCols;
  b.pack_f32 = &pack_rows<float>;
  b.pack_f64 = &pack_rows<double>;
  b.unpack_f32 = &unpack_rows_f32;
  b.pack_blocked = &pack_blocked;
  b.gemm = &bgemm;
  b.conv = &bconv;
  b.max_pool = &bpool;
  b.popcount_probe = &popcount_probe;
  b.probe_macs_per_iter = kProbeMacsPerIter;
  return b;
}

template <class T> TypedKernels<T> make_typed_kernels() {
  TypedKernels<T> k{};
#define FASTQ_TABLE_ENTRY(Name)                      \
  k.forward[k##Name] = &elementwise<Name, false, T>; \
  k.backward[k##Name] = &elementwise<Name, true, T>; \
  k.prepare[k##Name] = &Name::template prepare<T>;
  FASTQ_QUANTIZERS(FASTQ_TABLE_ENTRY)
#undef FASTQ_TABLE_ENTRY
  k.abs_sum = &abs_sum<T>;
  k.max_abs = &max_abs<T>;
  k.col_abs_sum = &col_abs_sum<T>;
  k.tanh = &tanh_kernel<T>;
  return k;
}

inline KernelTable make_table(const char* isa) {
  KernelTable t{};
  t.isa = isa;
#define FASTQ_PARAMS_ENTRY(Name) t.params[k##Name] = Name::kParams;
  FASTQ_QUANTIZERS(FASTQ_PARAMS_ENTRY)
#undef FASTQ_PARAMS_ENTRY
  t.f32 = make_typed_kernels<float>();
  t.f64 = make_typed_kernels<double>();
  t.binary = make_binary_kernels();
  t.fl = make_float_kernels();
  return t;
}
