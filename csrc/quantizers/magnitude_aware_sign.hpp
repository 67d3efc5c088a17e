// MagnitudeAwareSign: y = s * sign(x), dx = s*dy where |x| <= clip, else 0. s is the
// per-channel mean |x| (computed by the col_abs_sum reduction before this kernel runs), or
// |x| itself for 1-D input (larq reduces over no axis then).
// p[0] = clip_value, p[1] = no_clip: 1 when clip_value is None.
struct MagnitudeAwareSign : QuantizerBase {
  static constexpr ParamNames kParams{{"clip_value", "no_clip"}};
  static constexpr bool uses_scale = true;
  // The scale over every row (several rows); for one row none: the pass uses |x|.
  template <class T> static const T* prepare(TensorStats<T>& s, bool, T*) {
    return s.rows() > 1 ? s.channel_abs_mean() : nullptr;
  }
  template <class V> static FASTQ_INLINE V forward(V x, V s, const V*) { return s * sign_pm1(x); }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V s, const V* p) {
    return select(ste_mask(x, p[0], p[1]), s * dy, vconst<V>(0.0));
  }
};
