// SwishSign: sign(x); gradient dy*β*(2 - βx*tanh(βx/2)) / (1 + cosh(βx)), no mask.
// p[0] = beta.
//
// Evaluated through eh = exp(-|b|/2), e = eh², b = βx, which never overflow:
//   b*tanh(b/2)   = |b| * (1 - e) / (1 + e)
//   1/(1+cosh(b)) = 2e / (1 + e)²
//   so dx = dy*β * (2(1 + e) - |b|(1 - e)) * 2e / (1 + e)³   (one exp, one division)
// The last factor eh is applied alone so a tiny result is rounded once. Where larq's cosh
// overflows (|b| > ~89 in float32) larq returns ∓0 and fastq the tiny true value; at x = ±inf
// both give NaN. dy*β times the bracket comes first on purpose: for huge |b| (e = 0) it
// overflows exactly where larq's (dy*β)*(2 - b*tanh(b/2)) does, and inf*0 then gives larq's
// NaN. (The bracket is up to twice larq's for small |b|, so with |dy*β| within a factor 4 of
// the dtype's max it can overflow where larq's does not.)
struct SwishSign : QuantizerBase {
  static constexpr ParamNames kParams{{"beta"}};
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return sign_pm1(x); }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) {
    const V one = vconst<V>(1.0), two = vconst<V>(2.0);
    const V a = abs(p[0] * x);
    const V eh = exp_nonpos(a * vconst<V>(-0.5));
    const V e = eh * eh;
    const V one_e = one + e;
    const V num = (dy * p[0]) * (two * one_e - a * (one - e));
    return (num * ((eh + eh) / (one_e * one_e * one_e))) * eh;
  }
};
