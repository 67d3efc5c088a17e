// ApproxSign: sign(x); gradient (1 - |x|) * 2 * dy where |x| <= 1 (larq's order), else 0.
// No parameters.
struct ApproxSign : QuantizerBase {
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return sign_pm1(x); }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V*) {
    const V one = vconst<V>(1.0);
    const V a = abs(x);
    return select(le(a, one), ((one - a) * vconst<V>(2.0)) * dy, vconst<V>(0.0));
  }
};
