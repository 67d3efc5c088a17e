// exp and tanh written once over the vector vocabulary. Every ISA runs the same operation
// sequence (no FMA, -ffp-contract=off), so results are bit-identical across ISAs; accuracy is
// a few ulp (Cephes-style polynomials; tested against NumPy's float64 functions).

template <class V>
FASTQ_INLINE V vconst(double c) {
  return V::splat(static_cast<typename V::Scalar>(c));
}

// exp(x) for x <= 0 (or NaN). kFullRange: exact 0 below the subnormal range and subnormal
// results rounded once (2^n applied in two exact halves); otherwise x is clamped where exp(x)
// is still normal (-80 / -700) and 2^n applied once, for callers that only need exp(x) to
// about 1e-35 (tanh: 1 - e rounds to 1 long before that).
template <class V, bool kFullRange = true>
FASTQ_INLINE V exp_nonpos(V x) {
  using T = typename V::Scalar;
  constexpr bool f32 = std::is_same<T, float>::value;
  const V lowest = vconst<V>(kFullRange ? (f32 ? -104.0 : -746.0) : (f32 ? -80.0 : -700.0));
  x = select(lt(x, lowest), lowest, x);
  const V n = round_even(x * vconst<V>(1.4426950408889634));
  V p;
  if constexpr (f32) {
    const V r = (x - n * vconst<V>(0.693359375)) - n * vconst<V>(-2.12194440e-4);
    V q = vconst<V>(1.9875691500E-4);
    q = q * r + vconst<V>(1.3981999507E-3);
    q = q * r + vconst<V>(8.3334519073E-3);
    q = q * r + vconst<V>(4.1665795894E-2);
    q = q * r + vconst<V>(1.6666665459E-1);
    q = q * r + vconst<V>(5.0000001201E-1);
    p = (q * (r * r) + r) + vconst<V>(1.0);
  } else {
    const V r = (x - n * vconst<V>(6.93145751953125E-1)) - n * vconst<V>(1.42860682030941723212E-6);
    const V rr = r * r;
    const V px = r * ((vconst<V>(1.26177193074810590878E-4) * rr + vconst<V>(3.02994407707441961300E-2)) * rr +
                      vconst<V>(9.99999999999999999910E-1));
    const V qx = ((vconst<V>(3.00198505138664455042E-6) * rr + vconst<V>(2.52448340349684104192E-3)) * rr +
                  vconst<V>(2.27265548208155028766E-1)) * rr + vconst<V>(2.00000000000000000009E0);
    p = vconst<V>(1.0) + vconst<V>(2.0) * (px / (qx - px));
  }
  if constexpr (!kFullRange) return p * pow2i(n);
  const V n1 = round_even(n * vconst<V>(0.5));
  const V n2 = n - n1;
  return (p * pow2i(n1)) * pow2i(n2);
}

// tanh(x): odd polynomial below 0.625, (1 - e)/(1 + e) with e = exp(-2|x|) above.
template <class V>
FASTQ_INLINE V vtanh(V x) {
  using T = typename V::Scalar;
  const V a = abs(x);
  const V z = x * x;
  V small;
  if constexpr (std::is_same<T, float>::value) {
    V q = vconst<V>(-5.70498872745E-3);
    q = q * z + vconst<V>(2.06390887954E-2);
    q = q * z - vconst<V>(5.37397155531E-2);
    q = q * z + vconst<V>(1.33314422036E-1);
    q = q * z - vconst<V>(3.33332819422E-1);
    small = (q * z) * x + x;
  } else {
    const V pz = (vconst<V>(-9.64399179425052238628E-1) * z + vconst<V>(-9.92877231001918586564E1)) * z +
                 vconst<V>(-1.61468768441708447952E3);
    const V qz = ((z + vconst<V>(1.12811678491632931402E2)) * z + vconst<V>(2.23548839060100448583E3)) * z +
                 vconst<V>(4.84406305325125486048E3);
    small = x + x * (z * (pz / qz));
  }
  const V e = exp_nonpos<V, false>(neg(a + a));
  const V one = vconst<V>(1.0);
  const V t = (one - e) / (one + e);
  const V large = select(lt(x, vconst<V>(0.0)), neg(t), t);
  return select(lt(a, vconst<V>(0.625)), small, large);
}
