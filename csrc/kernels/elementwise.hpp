// The one elementwise loop every quantizer pass runs through (generic code). Partial vectors
// (a row's tail, and with streaming stores the head up to the first vector-aligned output
// address) go through a zero-padded stack buffer, so every ISA computes every element with
// the same vector code.
//
// kStream: non-temporal stores for outputs far larger than the caches (runtime/ops.cpp
// decides): the output does not evict the inputs and costs no read-for-ownership.

template <class Q, bool kBackward, bool kStream, class T>
void elementwise_rows(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols, const T* scale,
                      const T* params) {
  using V = Vec<T>;
  constexpr std::size_t L = V::lanes;
  V p[kNumParams];
  for (int i = 0; i < kNumParams; ++i) p[i] = V::splat(params[i]);

  // One vector: xp/dyp/sp point at L elements (dyp only read by backward, sp only by kernels
  // with a scale; a null scale means s = |x|).
  auto step = [&](const T* xp, const T* dyp, const T* sp, T* op, auto store) __attribute__((always_inline)) {
    V xv = V::load(xp);
    full_load(xv);
    V sv = xv;
    if constexpr (Q::uses_scale) {
      sv = sp ? V::load(sp) : abs(xv);
      full_load(sv);
    }
    if constexpr (kBackward) {
      V dyv = V::load(dyp);
      full_load(dyv);
      store(op, Q::backward(xv, dyv, sv, p));
    } else {
      (void)dyp;
      store(op, Q::forward(xv, sv, p));
    }
  };
  auto body_store = [](T* op, V v) __attribute__((always_inline)) {
    if constexpr (kStream)
      V::stream(op, v);
    else
      V::store(op, v);
  };
  auto plain_store = [](T* op, V v) __attribute__((always_inline)) { V::store(op, v); };

  for (std::size_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* dyr = kBackward ? dy + r * cols : nullptr;
    T* outr = out + r * cols;
    auto at = [&](const T* base, std::size_t c) { return base ? base + c : nullptr; };
    // Elements [c, c + m), m < L, through the buffers.
    auto partial = [&](std::size_t c, std::size_t m) {
      T bx[L] = {}, bdy[L] = {}, bs[L] = {}, bo[L];
      std::memcpy(bx, xr + c, m * sizeof(T));
      if (kBackward) std::memcpy(bdy, dyr + c, m * sizeof(T));
      if (Q::uses_scale && scale) std::memcpy(bs, scale + c, m * sizeof(T));
      step(bx, bdy, scale ? bs : nullptr, bo, plain_store);
      std::memcpy(outr + c, bo, m * sizeof(T));
    };
    std::size_t c = 0;
    if constexpr (kStream) {
      const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(outr) % sizeof(V) / sizeof(T);
      c = misaligned ? std::min(cols, L - misaligned) : 0;
      if (c) partial(0, c);
    }
    for (; c + 4 * L <= cols; c += 4 * L) {
      step(xr + c, at(dyr, c), at(scale, c), outr + c, body_store);
      step(xr + c + L, at(dyr, c + L), at(scale, c + L), outr + c + L, body_store);
      step(xr + c + 2 * L, at(dyr, c + 2 * L), at(scale, c + 2 * L), outr + c + 2 * L, body_store);
      step(xr + c + 3 * L, at(dyr, c + 3 * L), at(scale, c + 3 * L), outr + c + 3 * L, body_store);
    }
    for (; c + L <= cols; c += L) step(xr + c, at(dyr, c), at(scale, c), outr + c, body_store);
    if (c < cols) partial(c, cols - c);
  }
  if constexpr (kStream) stream_fence();
}

template <class Q, bool kBackward, class T>
void elementwise(const T* x, const T* dy, T* out, std::size_t rows, std::size_t cols, const T* scale, const T* params,
                 bool stream) {
  if (stream)
    elementwise_rows<Q, kBackward, true, T>(x, dy, out, rows, cols, scale, params);
  else
    elementwise_rows<Q, kBackward, false, T>(x, dy, out, rows, cols, scale, params);
}

// y = tanh(x) through the same loop (used for DoReFa's weight divisor d = tanh(max|x|)).
struct TanhOp {
  static constexpr bool uses_scale = false;
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return vtanh(x); }
  template <class V> static FASTQ_INLINE V backward(V, V dy, V, const V*) { return dy; }
};

template <class T> void tanh_kernel(const T* x, T* y, std::size_t n) {
  const T zeros[kNumParams] = {};
  elementwise<TanhOp, false, T>(x, nullptr, y, 1, n, nullptr, zeros, false);
}
