// DoReFa, both modes. Q(p) = round_half_even(p*n) / n, identity gradient through Q.

// mode="activations": y = Q(clip(x, 0, 1)) (NaN stays NaN); dx = dy where 0 <= x <= 1.
// p[0] = levels: n = 2^k_bit - 1.
struct DoReFaActivations : QuantizerBase {
  static constexpr ParamNames kParams{{"levels"}};
  template <class V> static FASTQ_INLINE V forward(V x, V, const V* p) {
    const V zero = vconst<V>(0.0), one = vconst<V>(1.0);
    const V c = select(lt(x, zero), zero, select(gt(x, one), one, x));
    return round_even(c * p[0]) / p[0];
  }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V*) {
    return select(ge(x, vconst<V>(0.0)) & le(x, vconst<V>(1.0)), dy, vconst<V>(0.0));
  }
};

// mode="weights": t = tanh(x), d = max|t| over the tensor (computed before, as tanh(max|x|)),
// p = t/(2d) + 0.5 (0.5 where d == 0), y = 2*Q(p) - 1; dx = dy*(1 - t²)/d, 0 where d == 0.
// p[0] = levels (n), p[1] = tanh_max (d), set by prepare(). (Divisions, not products with 1/d: d may be so small that
// 1/d overflows.)
struct DoReFaWeights : QuantizerBase {
  static constexpr ParamNames kParams{{"levels", "tanh_max"}};
  // d = max|tanh(x)| = tanh(max|x|): tanh is odd and increasing. NaN anywhere gives NaN.
  template <class T> static const T* prepare(TensorStats<T>& s, bool, T* p) {
    p[1] = s.tanh(s.max_abs());
    return nullptr;
  }
  template <class V> static FASTQ_INLINE V forward(V x, V, const V* p) {
    const V half = vconst<V>(0.5);
    const V q = select(eq(p[1], vconst<V>(0.0)), half, vtanh(x) / (vconst<V>(2.0) * p[1]) + half);
    return vconst<V>(2.0) * (round_even(q * p[0]) / p[0]) - vconst<V>(1.0);
  }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) {
    const V t = vtanh(x);
    const V dx = (dy * (vconst<V>(1.0) - t * t)) / p[1];
    return select(eq(p[1], vconst<V>(0.0)), vconst<V>(0.0), dx);
  }
};
