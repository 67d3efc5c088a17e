// Binary max pooling (generic code) on packed NHWC: max of +-1 values is -1 only where every
// tap is -1, so an output word is the AND of the window's words (bit = 1 means -1). "same"
// windows are clipped at the border (taps outside the input are skipped, as in TensorFlow);
// every window holds at least one tap (checked by the caller), so padding bits stay zero.
//
// Separable, one output row at a time: AND the window's input rows into a row buffer (whole
// vectors of words), then AND each output's window of columns out of that buffer.
inline void bpool(const PoolShape& s, const std::uint64_t* x, std::uint64_t* out, std::size_t row0, std::size_t row1,
                  std::uint64_t* scratch) {
  using ll = long long;
  constexpr std::size_t L = Words::lanes;
  const std::size_t cw = s.cw, rw = s.w * cw;  // words per input row
  for (std::size_t r = row0; r < row1; ++r) {
    const std::size_t n = r / s.oh, oy = r % s.oh;
    const ll by = static_cast<ll>(oy * s.sh) - static_cast<ll>(s.pad_top), ey = by + static_cast<ll>(s.ph);
    const std::size_t y0 = by < 0 ? 0 : static_cast<std::size_t>(by);
    const std::size_t y1 = ey < static_cast<ll>(s.h) ? static_cast<std::size_t>(ey) : s.h;
    const std::uint64_t* first = x + (n * s.h + y0) * rw;
    const std::uint64_t* t = first;  // the AND of rows y0 .. y1 - 1
    if (y1 - y0 > 1) {
      std::size_t i = 0;
      for (; i + L <= rw; i += L) {
        Words acc = Words::load(first + i);
        for (std::size_t y = 1; y < y1 - y0; ++y) acc = acc & Words::load(first + y * rw + i);
        Words::store(scratch + i, acc);
      }
      for (; i < rw; ++i) {
        std::uint64_t acc = first[i];
        for (std::size_t y = 1; y < y1 - y0; ++y) acc &= first[y * rw + i];
        scratch[i] = acc;
      }
      t = scratch;
    }
    std::uint64_t* dst = out + r * s.ow * cw;
    if (cw == 1 && s.pw == 2 && s.sw == 2 && s.pad_left == 0 && 2 * s.ow <= s.w) {
      for (std::size_t ox = 0; ox < s.ow; ++ox) dst[ox] = t[2 * ox] & t[2 * ox + 1];  // the common 2x2 / 2
      continue;
    }
    for (std::size_t ox = 0; ox < s.ow; ++ox, dst += cw) {
      const ll bx = static_cast<ll>(ox * s.sw) - static_cast<ll>(s.pad_left), ex = bx + static_cast<ll>(s.pw);
      const std::size_t x0 = bx < 0 ? 0 : static_cast<std::size_t>(bx);
      const std::size_t x1 = ex < static_cast<ll>(s.w) ? static_cast<std::size_t>(ex) : s.w;
      const std::uint64_t* src = t + x0 * cw;
      std::size_t c = 0;
      for (; c + L <= cw; c += L) {
        Words acc = Words::load(src + c);
        for (std::size_t ix = 1; ix < x1 - x0; ++ix) acc = acc & Words::load(src + ix * cw + c);
        Words::store(dst + c, acc);
      }
      for (; c < cw; ++c) {
        std::uint64_t acc = src[c];
        for (std::size_t ix = 1; ix < x1 - x0; ++ix) acc &= src[ix * cw + c];
        dst[c] = acc;
      }
    }
  }
}
