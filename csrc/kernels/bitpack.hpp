// Sign-binarize and bit-pack (generic code), in the public packed format of
// fastq/kernel_table.hpp: bit i % 64 of word i / 64 is 1 exactly when x[i] < 0. The mask comes
// from a comparison (lt), never from the IEEE sign bit, so -0.0 and NaN pack as 0 (= +1).
// to_bits puts lane j of a mask in bit j on every ISA, so every table produces the same words.

// One row of k values -> words(k) words. The last word's whole vectors are read in place (a
// row of 32 channels, one pixel of a binary convolution's input, is two of them); only the
// values past them go through a zero-filled buffer (0 is not < 0, so padding bits are 0).
template <class T> FASTQ_INLINE void pack_row(const T* x, std::size_t k, std::uint64_t* out) {
  using V = Vec<T>;
  constexpr std::size_t L = V::lanes;
  static_assert(64 % L == 0, "a word must hold whole vectors");
  const V zero = V::splat(T(0));
  auto word = [&](const T* p) __attribute__((always_inline)) {
    std::uint64_t w = 0;
    for (std::size_t g = 0; g < 64 / L; ++g) w |= to_bits(lt(V::load(p + g * L), zero)) << (g * L);
    return w;
  };
  std::size_t i = 0;
  for (; i + 64 <= k; i += 64) *out++ = word(x + i);
  if (i < k) {
    std::uint64_t w = 0;
    std::size_t g = 0;
    for (; i + L <= k; i += L, ++g) w |= to_bits(lt(V::load(x + i), zero)) << (g * L);
    if (i < k) {
      T buf[L] = {};
      std::memcpy(buf, x + i, (k - i) * sizeof(T));
      w |= to_bits(lt(V::load(buf), zero)) << (g * L);
    }
    *out = w;
  }
}

template <class T> void pack_rows(const T* x, std::size_t rows, std::size_t k, std::uint64_t* out) {
  using V = Vec<T>;
  constexpr std::size_t L = V::lanes;
  if (k == 32 && 32 % L == 0) {  // 32-channel pixels (binary convolutions' inputs): no loop per row
    const V zero = V::splat(T(0));
    for (std::size_t r = 0; r < rows; ++r, x += 32) {
      std::uint64_t w = 0;
#pragma GCC unroll 32
      for (std::size_t g = 0; g < 32 / L; ++g) w |= to_bits(lt(V::load(x + g * L), zero)) << (g * L);
      out[r] = w;
    }
    return;
  }
  const std::size_t kw = (k + 63) / 64;
  for (std::size_t r = 0; r < rows; ++r) pack_row(x + r * k, k, out + r * kw);
}

// words -> +-1 values (bit 1 -> -1). Plain loops: this direction is not performance-critical.
inline void unpack_rows_f32(const std::uint64_t* words, std::size_t rows, std::size_t k, float* out) {
  const std::size_t kw = (k + 63) / 64;
  for (std::size_t r = 0; r < rows; ++r, words += kw, out += k)
    for (std::size_t i = 0; i < k; ++i) out[i] = (words[i / 64] >> (i % 64)) & 1 ? -1.0f : 1.0f;
}

// Public rows -> blocked layout (fastq/kernel_table.hpp): each block of kBinaryBlock rows is
// transposed lanes x lanes words at a time in registers; a partial block reads zeros for its
// missing rows, and the last kw % lanes words of each row go one by one. Rows are ld >= kw words
// apart (ld > kw: words [w0, w0 + kw) of longer rows, one piece of a long block). Whole blocks
// skip the missing-row tests (compiled apart: the scalar table ran 1.3x slower with them).
template <bool Whole>
FASTQ_INLINE void pack_block(const std::uint64_t* const* row, std::size_t kw, std::uint64_t* out) {
  constexpr std::size_t L = Words::lanes, B = kBinaryBlock;
  static_assert(B % L == 0, "a block must hold whole vectors");
  static const std::uint64_t zeros[L] = {};
  std::size_t w = 0;
  for (; w + L <= kw; w += L)
    for (std::size_t g = 0; g < B; g += L) {
      Words t[L];
      for (std::size_t j = 0; j < L; ++j) t[j] = Whole || row[g + j] ? Words::load(row[g + j] + w) : Words::load(zeros);
      transpose(t);  // t[j] = word w + j of rows g .. g + L - 1
      for (std::size_t j = 0; j < L; ++j) Words::store(out + (w + j) * B + g, t[j]);
    }
  for (; w < kw; ++w)
    for (std::size_t c = 0; c < B; ++c) out[w * B + c] = Whole || row[c] ? row[c][w] : 0;
}
inline void pack_blocked(const std::uint64_t* b, std::size_t n, std::size_t kw, std::size_t ld, std::uint64_t* out) {
  constexpr std::size_t B = kBinaryBlock;
  for (std::size_t r0 = 0; r0 < n; r0 += B, out += B * kw) {
    const std::uint64_t* row[B];
    for (std::size_t c = 0; c < B; ++c) row[c] = r0 + c < n ? b + (r0 + c) * ld : nullptr;
    if (n - r0 >= B)
      pack_block<true>(row, kw, out);
    else
      pack_block<false>(row, kw, out);
  }
}
