// Reductions (generic code). Their summation order is fixed and independent of the ISA, so
// every table returns bit-identical results: abs_sum keeps kSums float64 running sums (element
// i goes to sum i % kSums, whatever the vector width) and combines them by a fixed tree.

// 32 sums: four independent add chains of 8 doubles on AVX-512 (16 sums were two chains, and
// the adds' latency, not the loads, set the speed).
constexpr std::size_t kSums = 32;

template <class T> double abs_sum(const T* x, std::size_t n) {
  using D = Vec<double>;
  constexpr std::size_t L = D::lanes;
  constexpr std::size_t G = kSums / L;
  static_assert(kSums % L == 0, "the running sums must split evenly into vectors");
  D acc[G];
  for (std::size_t g = 0; g < G; ++g) acc[g] = D::splat(0.0);
  std::size_t i = 0;
  for (; i + kSums <= n; i += kSums)
    for (std::size_t g = 0; g < G; ++g) acc[g] = acc[g] + abs(load_f64(x + i + g * L));
  if (i < n) {
    T buf[kSums] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(T));
    for (std::size_t g = 0; g < G; ++g) acc[g] = acc[g] + abs(load_f64(buf + g * L));
  }
  double s[kSums];
  for (std::size_t g = 0; g < G; ++g) D::store(s + g * L, acc[g]);
  for (std::size_t w = kSums / 2; w >= 1; w /= 2)
    for (std::size_t j = 0; j < w; ++j) s[j] = s[j] + s[j + w];
  return s[0];
}

// max |x|; NaN if any element is NaN. The result does not depend on the order.
template <class T> T max_abs(const T* x, std::size_t n) {
  using V = Vec<T>;
  constexpr std::size_t L = V::lanes;
  auto take = [](V m, V a) __attribute__((always_inline)) { return select(gt(a, m) | isnan(a), a, m); };
  // Four running maxima: one chain's compare + select latency, not the loads, set the speed
  // (1e5 float32, AVX-512: 14.8 us with one, 3.5 us with four).
  V m0 = V::splat(T(0)), m1 = m0, m2 = m0, m3 = m0;
  std::size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    m0 = take(m0, abs(V::load(x + i)));
    m1 = take(m1, abs(V::load(x + i + L)));
    m2 = take(m2, abs(V::load(x + i + 2 * L)));
    m3 = take(m3, abs(V::load(x + i + 3 * L)));
  }
  V m = take(take(m0, m1), take(m2, m3));
  for (; i + L <= n; i += L) m = take(m, abs(V::load(x + i)));
  if (i < n) {
    T buf[L] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(T));
    m = take(m, abs(V::load(buf)));
  }
  T lanes[L];
  V::store(lanes, m);
  V r = V::splat(lanes[0]);
  for (std::size_t j = 1; j < L; ++j) r = take(r, V::splat(lanes[j]));
  T out[L];
  V::store(out, r);
  return out[0];
}

// acc[c] += sum over r of |x[r * stride + c]|, rows in order, float64 (MagnitudeAwareSign).
template <class T> void col_abs_sum(const T* x, std::size_t rows, std::size_t width, std::size_t stride, double* acc) {
  using D = Vec<double>;
  constexpr std::size_t L = D::lanes;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* xr = x + r * stride;
    std::size_t c = 0;
    for (; c + L <= width; c += L) D::store(acc + c, D::load(acc + c) + abs(load_f64(xr + c)));
    for (; c < width; ++c) acc[c] = acc[c] + __builtin_fabs(static_cast<double>(xr[c]));
  }
}
