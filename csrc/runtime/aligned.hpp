// Cache-line aligned storage for the weights the kernels stream with vector loads (operator new
// and NumPy give 16-byte alignment, so a 64-byte load would straddle two lines).
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace fastq {
template <class T> struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kLine{64};
  CacheAligned() = default;
  template <class U> CacheAligned(const CacheAligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kLine)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kLine); }
  template <class U> bool operator==(const CacheAligned<U>&) const { return true; }
  template <class U> bool operator!=(const CacheAligned<U>&) const { return false; }
};
template <class T> using AlignedVector = std::vector<T, CacheAligned<T>>;
}  // namespace fastq
