// Float pointwise layers (generic code): global average pooling, add, per-channel affine (batch
// norm) + relu, softmax; and the FloatKernels table entry. As in fconv.hpp every output has one
// fixed operation sequence (lanes are independent outputs; channel tails run the same
// operations one lane at a time), so every ISA gives the scalar table's bits.

// y[i, c] = (x[i, 0, c] + x[i, 1, c] + ... in pixel order, from +0) / pixels.
inline void fglobal_avg_pool(const float* x, std::size_t pixels, std::size_t C, float* y, std::size_t i0,
                             std::size_t i1) {
  constexpr std::size_t NV = kFconvVecs;
  const std::size_t full = C / kFL * kFL;
  const FV count = FV::splat(static_cast<float>(pixels));
  for (std::size_t i = i0; i < i1; ++i) {
    const float* xi = x + i * pixels * C;
    float* yi = y + i * C;
    std::size_t c = 0;
    for (; c + NV * kFL <= full; c += NV * kFL) {
      FV acc[NV];
      for (std::size_t v = 0; v < NV; ++v) acc[v] = FV::splat(0.0f);
      for (std::size_t p = 0; p < pixels; ++p)
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NV; ++v) acc[v] = acc[v] + FV::load(xi + p * C + c + v * kFL);
      for (std::size_t v = 0; v < NV; ++v) FV::store(yi + c + v * kFL, acc[v] / count);
    }
    for (; c < full; c += kFL) {
      FV acc = FV::splat(0.0f);
      for (std::size_t p = 0; p < pixels; ++p) acc = acc + FV::load(xi + p * C + c);
      FV::store(yi + c, acc / count);
    }
    for (; c < C; ++c) {
      float a = 0.0f;
      for (std::size_t p = 0; p < pixels; ++p) a = a + xi[p * C + c];
      yi[c] = a / static_cast<float>(pixels);
    }
  }
}

// y = a + b, then relu (y < 0 ? 0 : y) if asked.
inline void fadd(const float* a, const float* b, float* y, std::size_t n, bool relu) {
  const FV zero = FV::splat(0.0f);
  std::size_t i = 0;
  if (relu) {
    for (; i + kFL <= n; i += kFL) FV::store(y + i, at_least(FV::load(a + i) + FV::load(b + i), zero));
  } else {
    for (; i + 2 * kFL <= n; i += 2 * kFL) {
      FV::store(y + i, FV::load(a + i) + FV::load(b + i));
      FV::store(y + i + kFL, FV::load(a + i + kFL) + FV::load(b + i + kFL));
    }
    for (; i + kFL <= n; i += kFL) FV::store(y + i, FV::load(a + i) + FV::load(b + i));
  }
  for (; i < n; ++i) {
    const float s = a[i] + b[i];
    y[i] = relu && s < 0.0f ? 0.0f : s;
  }
}

// y[r, c] = ((x[r, c] * scale[c]) + bias[c]) + res[r, c], each optional and rounded on its own;
// then relu if asked.
inline void faffine(const float* x, const float* scale, const float* bias, const float* res, bool relu, float* y,
                    std::size_t rows, std::size_t C) {
  const std::size_t full = C / kFL * kFL;
  if (C == full && !scale && !bias && !res) {  // relu or copy over the whole array: one flat loop
    const std::size_t n = rows * C;
    const FV zero = FV::splat(0.0f);
    for (std::size_t i = 0; i < n; i += kFL) {
      const FV v = FV::load(x + i);
      FV::store(y + i, relu ? at_least(v, zero) : v);
    }
    return;
  }
  const FV zero = FV::splat(0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    const float* rr = res ? res + r * C : nullptr;
    float* yr = y + r * C;
    std::size_t c = 0;
    for (; c < full; c += kFL) {
      FV v = FV::load(xr + c);
      if (scale) v = v * FV::load(scale + c);
      if (bias) v = v + FV::load(bias + c);
      if (rr) v = v + FV::load(rr + c);
      FV::store(yr + c, relu ? at_least(v, zero) : v);
    }
    for (; c < C; ++c) {
      float v = xr[c];
      if (scale) v = v * scale[c];
      if (bias) v = v + bias[c];
      if (rr) v = v + rr[c];
      yr[c] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

// Softmax of each row of n values (float32), identical on every ISA:
//   m = max(x) (NaN if any x is NaN); e_i = exp(x_i - m) with fastq's exp (kernels/vmath.hpp,
//   the same operations on every ISA); s = sum of e_i in float64 in the canonical order of
//   kernels/reductions.hpp (32 running sums over i mod 32, a fixed tree), rounded to float32;
//   y_i = e_i / s (correctly rounded division).
inline void fsoftmax(const float* x, float* y, std::size_t rows, std::size_t n) {
  using D = Vec<double>;
  constexpr std::size_t DL = D::lanes, G = kSums / DL;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    FV m = FV::splat(-std::numeric_limits<float>::infinity());
    auto take = [](FV a, FV b) __attribute__((always_inline)) { return select(gt(b, a) | isnan(b), b, a); };
    std::size_t i = 0;
    for (; i + kFL <= n; i += kFL) m = take(m, FV::load(xr + i));
    float mv;
    {
      float lanes[kFL];
      FV::store(lanes, m);
      mv = lanes[0];
      for (std::size_t j = 1; j < kFL; ++j) mv = (lanes[j] > mv || lanes[j] != lanes[j]) ? lanes[j] : mv;
      for (; i < n; ++i) mv = (xr[i] > mv || xr[i] != xr[i]) ? xr[i] : mv;
    }
    // e_i into y, kSums at a time through a buffer (so the sums see whole groups of 32).
    const FV mvv = FV::splat(mv);
    D acc[G];
    for (std::size_t g = 0; g < G; ++g) acc[g] = D::splat(0.0);
    for (std::size_t i0 = 0; i0 < n; i0 += kSums) {
      const std::size_t cnt = n - i0 < kSums ? n - i0 : kSums;
      alignas(64) float buf[kSums];
      if (cnt == kSums) {
        for (std::size_t j = 0; j < kSums; j += kFL) FV::store(buf + j, exp_nonpos(FV::load(xr + i0 + j) - mvv));
      } else {
        alignas(64) float in[kSums];
        for (std::size_t j = 0; j < kSums; ++j) in[j] = j < cnt ? xr[i0 + j] : mv;
        for (std::size_t j = 0; j < kSums; j += kFL) FV::store(buf + j, exp_nonpos(FV::load(in + j) - mvv));
        for (std::size_t j = cnt; j < kSums; ++j) buf[j] = 0.0f;
      }
      for (std::size_t g = 0; g < G; ++g) acc[g] = acc[g] + load_f64(buf + g * DL);
      std::memcpy(yr + i0, buf, cnt * sizeof(float));
    }
    double s[kSums];
    for (std::size_t g = 0; g < G; ++g) D::store(s + g * DL, acc[g]);
    for (std::size_t w = kSums / 2; w >= 1; w /= 2)
      for (std::size_t j = 0; j < w; ++j) s[j] = s[j] + s[j + w];
    const FV sv = FV::splat(static_cast<float>(s[0]));
    std::size_t j = 0;
    for (; j + kFL <= n; j += kFL) FV::store(yr + j, FV::load(yr + j) / sv);
    for (; j < n; ++j) yr[j] = yr[j] / static_cast<float>(s[0]);
  }
}

inline FloatKernels make_float_kernels() {
  FloatKernels f{};
  f.lanes = kFL;
  f.block = kFconvBlock;
  f.conv_pack = &fconv_pack;
  f.conv = &fconv;
  f.depthwise = &fdepthwise;
  f.max_pool = &fmax_pool;
  f.avg_pool = &favg_pool;
  f.global_avg_pool = &fglobal_avg_pool;
  f.add = &fadd;
  f.affine = &faffine;
  f.softmax = &fsoftmax;
  f.fma_probe = &fma_probe;
  f.probe_flops_per_iter = kProbeFlopsPerIter;
  return f;
}
