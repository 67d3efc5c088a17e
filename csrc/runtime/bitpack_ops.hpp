// Bit-packing drivers (binary family, see binary_common.hpp).
#pragma once
#include "runtime/binary_common.hpp"

namespace fastq {
// x: rows x k values -> out: rows x packed_words(k) words (public format).
template <class T>
void pack_bits(const KernelTable& t, const T* x, std::size_t rows, std::size_t k, std::uint64_t* out);

// words: rows x packed_words(k) -> out: rows x k values in {-1, +1}.
void unpack_bits(const KernelTable& t, const std::uint64_t* words, std::size_t rows, std::size_t k, float* out);

// b: n public rows of kw words -> out: blocked_words(n, kw) words in the blocked layout.
void pack_blocked(const KernelTable& t, const std::uint64_t* b, std::size_t n, std::size_t kw, std::uint64_t* out);

// Public packed rows of groups * cg bits -> the grouped layout (ConvShape): each row becomes
// groups slices of packed_words(cg) words, group g holding bits g * cg .. (g + 1) * cg - 1. On the
// calling thread.
void regroup_rows(const std::uint64_t* words, std::size_t rows, std::size_t groups, std::size_t cg, std::uint64_t* out);
}  // namespace fastq
