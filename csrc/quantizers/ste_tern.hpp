// SteTern: larq's literal sign(sign(x + Δ) + sign(x - Δ)) with tf.sign (sign(0) = 0):
// ±1 at |x| >= Δ, 0 inside, NaN for NaN x or Δ. Clipped straight-through gradient.
// p[0] = clip_value, p[1] = 1 when clip_value is None, p[2] = Δ (threshold_value, or the TWN
// threshold computed by the abs_sum reduction).
//
// Evaluated with fewer operations, exactly equal to the literal formula:
//  - the formula is the same for Δ and -Δ (the two terms swap: x + (-Δ) == x - Δ exactly), so
//    take D = |Δ| >= 0 (or NaN);
//  - then s = x + D >= d = x - D after rounding (rounding is monotone), so of the nine sign
//    pairs only these remain: sum > 0 iff s > 0 and d >= 0; sum < 0 iff s <= 0 and d < 0;
//    NaN iff s or d is NaN (x NaN, D NaN, or inf - inf); 0 otherwise.
struct SteTern {
  static constexpr bool uses_scale = false;
  template <class V> static FASTQ_INLINE V forward(V x, V, const V* p) {
    const V delta = abs(p[2]);
    const V s = x + delta, d = x - delta;
    const V zero = vconst<V>(0.0);
    const auto pos = gt(s, zero) & ge(d, zero);
    const auto neg = le(s, zero) & lt(d, zero);
    return select(pos, vconst<V>(1.0), select(neg, vconst<V>(-1.0), select(isnan(s) | isnan(d), s + d, zero)));
  }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) { return ste_grad(x, dy, p[0], p[1]); }
};
