// Binary max pooling (generic code) on packed NHWC: max of +-1 values is -1 only where every
// tap is -1, so an output word is the AND of the window's words (bit = 1 means -1). "same"
// windows are clipped at the border (taps outside the input are skipped, as in TensorFlow);
// every window holds at least one tap (checked by the caller), so padding bits stay zero.
inline void bpool(const PoolShape& s, const std::uint64_t* x, std::uint64_t* out, std::size_t p0, std::size_t p1) {
  using ll = long long;
  constexpr std::size_t L = Words::lanes;
  const std::size_t cw = s.cw;
  std::size_t ox = p0 % s.ow, oy = (p0 / s.ow) % s.oh, n = p0 / s.ow / s.oh;
  for (std::size_t p = p0; p < p1; ++p) {
    const ll by = static_cast<ll>(oy * s.sh) - static_cast<ll>(s.pad_top);
    const ll bx = static_cast<ll>(ox * s.sw) - static_cast<ll>(s.pad_left);
    const std::size_t y0 = by < 0 ? 0 : static_cast<std::size_t>(by);
    const std::size_t x0 = bx < 0 ? 0 : static_cast<std::size_t>(bx);
    const ll ey = by + static_cast<ll>(s.ph), ex = bx + static_cast<ll>(s.pw);
    const std::size_t y1 = ey < static_cast<ll>(s.h) ? static_cast<std::size_t>(ey) : s.h;
    const std::size_t x1 = ex < static_cast<ll>(s.w) ? static_cast<std::size_t>(ex) : s.w;
    std::uint64_t* dst = out + p * cw;
    const std::uint64_t* first = x + ((n * s.h + y0) * s.w + x0) * cw;
    std::size_t c = 0;
    for (; c + L <= cw; c += L) {
      Words acc = Words::load(first + c);
      for (std::size_t iy = y0; iy < y1; ++iy)
        for (std::size_t ix = (iy == y0 ? x0 + 1 : x0); ix < x1; ++ix)
          acc = acc & Words::load(x + ((n * s.h + iy) * s.w + ix) * cw + c);
      Words::store(dst + c, acc);
    }
    for (; c < cw; ++c) {
      std::uint64_t acc = first[c];
      for (std::size_t iy = y0; iy < y1; ++iy)
        for (std::size_t ix = (iy == y0 ? x0 + 1 : x0); ix < x1; ++ix) acc &= x[((n * s.h + iy) * s.w + ix) * cw + c];
      dst[c] = acc;
    }
    if (++ox == s.ow) {
      ox = 0;
      if (++oy == s.oh) oy = 0, ++n;
    }
  }
}
