// SteTern: larq's literal sign(sign(x + Δ) + sign(x - Δ)) with tf.sign (sign(0) = 0):
// ±1 at |x| >= Δ, 0 inside, NaN for NaN x or Δ. Clipped straight-through gradient.
// p[0] = clip_value, p[1] = 1 when clip_value is None, p[2] = Δ (threshold_value, or the TWN
// threshold computed by the abs_sum reduction).
struct SteTern {
  static constexpr bool uses_scale = false;
  template <class V> static FASTQ_INLINE V forward(V x, V, const V* p) {
    return sign_tf(sign_tf(x + p[2]) + sign_tf(x - p[2]));
  }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) { return ste_grad(x, dy, p[0], p[1]); }
};
