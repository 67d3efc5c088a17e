// The one elementwise loop every quantizer pass runs through (generic code). A row's tail
// (cols % lanes elements) goes through a zero-padded stack buffer, so every ISA computes every
// element with the same vector code.

template <class Q, bool kBackward, class T>
void elementwise(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols, const T* scale,
                 const T* params) {
  using V = Vec<T>;
  constexpr std::size_t L = V::lanes;
  V p[kNumParams];
  for (int i = 0; i < kNumParams; ++i) p[i] = V::splat(params[i]);

  // One vector: xp/dyp/sp point at L elements (dyp only read by backward, sp only by kernels
  // with a scale; a null scale means s = |x|).
  auto step = [&](const T* xp, const T* dyp, const T* sp, T* op) __attribute__((always_inline)) {
    const V xv = V::load(xp);
    V sv = xv;
    if constexpr (Q::uses_scale) sv = sp ? V::load(sp) : abs(xv);
    if constexpr (kBackward) {
      V::store(op, Q::backward(xv, V::load(dyp), sv, p));
    } else {
      (void)dyp;
      V::store(op, Q::forward(xv, sv, p));
    }
  };

  for (std::size_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* dyr = kBackward ? dy + r * cols : nullptr;
    T* outr = out + r * cols;
    auto at = [&](const T* base, std::size_t c) { return base ? base + c : nullptr; };
    std::size_t c = 0;
    for (; c + 4 * L <= cols; c += 4 * L) {
      step(xr + c, at(dyr, c), at(scale, c), outr + c);
      step(xr + c + L, at(dyr, c + L), at(scale, c + L), outr + c + L);
      step(xr + c + 2 * L, at(dyr, c + 2 * L), at(scale, c + 2 * L), outr + c + 2 * L);
      step(xr + c + 3 * L, at(dyr, c + 3 * L), at(scale, c + 3 * L), outr + c + 3 * L);
    }
    for (; c + L <= cols; c += L) step(xr + c, at(dyr, c), at(scale, c), outr + c);
    if (c < cols) {
      const std::size_t m = cols - c;
      T bx[L] = {}, bdy[L] = {}, bs[L] = {}, bo[L];
      std::memcpy(bx, xr + c, m * sizeof(T));
      if (kBackward) std::memcpy(bdy, dyr + c, m * sizeof(T));
      if (Q::uses_scale && scale) std::memcpy(bs, scale + c, m * sizeof(T));
      step(bx, bdy, scale ? bs : nullptr, bo);
      std::memcpy(outr + c, bo, m * sizeof(T));
    }
  }
}

// y = tanh(x) through the same loop (used for DoReFa's weight divisor d = tanh(max|x|)).
struct TanhOp {
  static constexpr bool uses_scale = false;
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return vtanh(x); }
  template <class V> static FASTQ_INLINE V backward(V, V dy, V, const V*) { return dy; }
};

template <class T>
void tanh_kernel(const T* x, T* y, std::size_t n) {
  const T zeros[kNumParams] = {};
  elementwise<TanhOp, false, T>(x, nullptr, y, 1, n, nullptr, zeros);
}
