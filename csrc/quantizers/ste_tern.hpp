// SteTern: larq's literal sign(sign(x + Δ) + sign(x - Δ)) with tf.sign (sign(0) = 0):
// ±1 at |x| >= Δ, 0 inside, NaN for NaN x or Δ. Clipped straight-through gradient.
// p[0] = clip_value, p[1] = no_clip (1 when clip_value is None), p[2] = threshold: Δ, p[3] = twn:
// nonzero asks prepare() to replace Δ with the TWN threshold of the forward pass.
//
// Evaluated with fewer operations, exactly equal to the literal formula (checked against it
// over special values and 10^5 random inputs per threshold):
//  - the formula is the same for Δ and -Δ (the two terms swap), so take D = |Δ|;
//  - for finite D, rounding is monotone and x ± D rounds to 0 only when it is exactly 0, so
//    sign(x - D) >= 0 iff x >= D and sign(x + D) <= 0 iff x <= -D; the sum is then
//    [x >= D] - [x <= -D] (both hold only for x = D = 0: sum 0, as sign(0) + sign(0));
//  - NaN comes out for NaN x, NaN D, and infinite x with infinite D (inf - inf): exactly where
//    x * z is NaN, z = 1 for finite D, 0 for infinite D, NaN for NaN D (loop-invariant). For
//    infinite D and finite x the comparisons give 0, as sign(inf) + sign(-inf) does.
struct SteTern : QuantizerBase {
  static constexpr ParamNames kParams{{"clip_value", "no_clip", "threshold", "twn"}};
  // larq's TWN threshold: 0.7 * reduce_sum(|x|) / size, in this order, in the working dtype
  // (the sum accumulated in float64 and rounded once).
  template <class T> static const T* prepare(TensorStats<T>& s, bool backward, T* p) {
    if (!backward && p[3] != T(0)) p[2] = (T(0.7) * static_cast<T>(s.abs_sum())) / static_cast<T>(s.size());
    return nullptr;
  }
  template <class V> static FASTQ_INLINE V forward(V x, V, const V* p) {
    const V delta = abs(p[2]);
    const V zero = vconst<V>(0.0), one = vconst<V>(1.0);
    const V z = select(lt(delta, vconst<V>(INFINITY)), one, select(isnan(delta), delta, zero));
    const V r = select(ge(x, delta), one, zero) + select(le(x, neg(delta)), vconst<V>(-1.0), zero);
    const V m = x * z;
    return select(isnan(m), m, r);
  }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) { return ste_grad(x, dy, p[0], p[1]); }
};
