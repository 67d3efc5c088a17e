// exp and tanh written once over the vector vocabulary. Every ISA runs the same operation
// sequence (no FMA, -ffp-contract=off), so results are bit-identical across ISAs; accuracy is
// a few ulp (Cephes-style polynomials; tested against NumPy's float64 functions).

template <class V> FASTQ_INLINE V vconst(double c) { return V::splat(static_cast<typename V::Scalar>(c)); }

// c0*r^k + c1*r^(k-1) + ... + ck by Horner's rule: q = c0, then q = q*r + c for each next c.
template <class V> FASTQ_INLINE V horner_step(V q, V) { return q; }
template <class V, class... C> FASTQ_INLINE V horner_step(V q, V r, double c, C... rest) {
  return horner_step(q * r + vconst<V>(c), r, rest...);
}
template <class V, class... C> FASTQ_INLINE V horner(V r, double c0, C... rest) {
  return horner_step(vconst<V>(c0), r, rest...);
}

// float32 Cody-Waite range reduction: x = n*ln2 + r with n = round(x/ln2), |r| <= ln2/2 (ln2 in
// two parts so n*ln2_hi is exact). Returns n; r through the reference.
template <class V> FASTQ_INLINE V reduce_ln2_f32(V x, V& r) {
  const V n = round_even(x * vconst<V>(1.4426950408889634));
  r = (x - n * vconst<V>(0.693359375)) - n * vconst<V>(-2.12194440e-4);
  return n;
}

// exp(x) for x <= 0 (or NaN). kFullRange: exact 0 below the subnormal range and subnormal
// results rounded once (p*2^n as (p*2^(n+64))*2^-64: the first product is exact and normal,
// the second rounds once); otherwise x is clamped where exp(x) is still normal (-80 / -700)
// and 2^n applied once, for callers that only need exp(x) to about 1e-35.
template <class V, bool kFullRange = true> FASTQ_INLINE V exp_nonpos(V x) {
  using T = typename V::Scalar;
  constexpr bool f32 = std::is_same<T, float>::value;
  const V lowest = vconst<V>(kFullRange ? (f32 ? -104.0 : -746.0) : (f32 ? -80.0 : -700.0));
  x = at_least(x, lowest);
  V n, p;
  if constexpr (f32) {
    V r;
    n = reduce_ln2_f32(x, r);
    // exp(r) = 1 + r + r^2*q(r) on |r| <= ln2/2: minimax, relative error 3.1e-9 (0.05 ulp;
    // Cephes' one degree more was ~1e-10, which SwishSign's bound does not need).
    const V q = horner(r, 1.381453825e-3, 8.368745446e-3, 4.166838899e-2, 1.666652113e-1, 4.999999404e-1);
    p = (q * (r * r) + r) + vconst<V>(1.0);
  } else {
    n = round_even(x * vconst<V>(1.4426950408889634));
    const V r = (x - n * vconst<V>(6.93145751953125E-1)) - n * vconst<V>(1.42860682030941723212E-6);
    const V rr = r * r;
    const V px = r * ((vconst<V>(1.26177193074810590878E-4) * rr + vconst<V>(3.02994407707441961300E-2)) * rr +
                      vconst<V>(9.99999999999999999910E-1));
    const V qx = ((vconst<V>(3.00198505138664455042E-6) * rr + vconst<V>(2.52448340349684104192E-3)) * rr +
                  vconst<V>(2.27265548208155028766E-1)) *
                     rr +
                 vconst<V>(2.00000000000000000009E0);
    p = vconst<V>(1.0) + vconst<V>(2.0) * (px / (qx - px));
  }
  if constexpr (!kFullRange) return p * pow2i(n);
  return (p * pow2i(n + vconst<V>(64.0))) * vconst<V>(0x1p-64);
}

// tanh(x), float32: one formula for every |x| (no second branch), about 2/3 of the operations
// of the float64 version below. With a = |x| and exp(-2a) = s*(1 + em), s = 2^n, em = expm1(r):
//   tanh(a) = (1 - exp(-2a)) / (1 + exp(-2a)) = ((1 - s) - s*em) / ((1 + s) + s*em)
// s*em is exact, and so are 1 - s and 1 + s while n >= -23, so numerator and denominator are
// each rounded once: for small a (n = 0) this is -em/(2 + em), with no cancellation; for large
// a it is the usual (1 - e)/(1 + e). Worst case over all float32 inputs: 1.96 ulp (the earlier
// two-branch version: 1.51; scripts/check_tanh.py checks exhaustively). -2a is clamped at
// -18.5 (tanh rounds to 1 above a = 9.01) so 2^n stays normal; the sign is copied back from x
// at the end (-0.0 -> -0.0, NaN stays NaN).
template <class V> FASTQ_INLINE V vtanh_f32(V x) {
  const V a = abs(x);
  V y = a * vconst<V>(-2.0);
  y = at_least(y, vconst<V>(-18.5));
  V r;
  const V n = reduce_ln2_f32(y, r);
  // expm1(r) = r + r^2*q(r) on |r| <= ln2/2: minimax, relative error 1.3e-8 (0.22 ulp); one
  // more term (2.4e-10) costs ~10% more time and only moves the worst case from 1.96 to 1.94 ulp.
  const V q = horner(r, 1.388251432e-3, 8.366547525e-3, 4.166720062e-2, 1.666654348e-1, 4.999999702e-1);
  const V em = (r * r) * q + r;
  const V s = pow2i(n);
  const V se = s * em;
  const V one = vconst<V>(1.0);
  return copysign(((one - s) - se) / ((one + s) + se), x);
}

// tanh(x): float32 above; float64: odd rational below 0.625, (1 - e)/(1 + e) with
// e = exp(-2|x|) above, evaluated on |x| with the sign copied back (-0.0 -> -0.0).
template <class V> FASTQ_INLINE V vtanh(V x) {
  using T = typename V::Scalar;
  if constexpr (std::is_same<T, float>::value) {
    return vtanh_f32(x);
  } else {
    const V a = abs(x);
    const V z = a * a;
    const V pz = (vconst<V>(-9.64399179425052238628E-1) * z + vconst<V>(-9.92877231001918586564E1)) * z +
                 vconst<V>(-1.61468768441708447952E3);
    const V qz = ((z + vconst<V>(1.12811678491632931402E2)) * z + vconst<V>(2.23548839060100448583E3)) * z +
                 vconst<V>(4.84406305325125486048E3);
    const V small = a + a * (z * (pz / qz));
    const V e = exp_nonpos<V, false>(neg(a + a));
    const V one = vconst<V>(1.0);
    const V large = (one - e) / (one + e);
    return copysign(select(lt(a, vconst<V>(0.625)), small, large), x);
  }
}
