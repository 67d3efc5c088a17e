// SteSign: sign(x); clipped straight-through gradient.
// p[0] = clip_value, p[1] = 1 when clip_value is None (no mask).
struct SteSign {
  static constexpr bool uses_scale = false;
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return sign_pm1(x); }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) { return ste_grad(x, dy, p[0], p[1]); }
};
