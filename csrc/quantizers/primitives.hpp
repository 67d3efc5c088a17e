// Building blocks shared by the quantizers (docs/semantics.md, "Primitives"). Generic code: included
// inside a target namespace after the vector vocabulary.
//
// A quantizer is a struct deriving from QuantizerBase with
//   static constexpr ParamNames kParams;      // its parameters' names, slot by slot (the one
//                                             // declaration: bindings and Python use the names)
//   static constexpr bool uses_scale;          // reads the per-channel scale s
//   template <class T> static const T* prepare(TensorStats<T>&, bool backward, T* p);
//                                             // whole-tensor statistics before the pass
//   template <class V> static V forward(V x, V s, const V* p);
//   template <class V> static V backward(V x, V dy, V s, const V* p);
// where p holds the kNumParams parameters broadcast to vectors (meaning documented per file).
// Adding one: this file's siblings show the pattern; then a line in fastq/quantizer_list.hpp,
// its include in all.hpp and a Python class in python/fastq/quantizers.py.

// Defaults: no parameters, no scale, nothing to prepare.
struct QuantizerBase {
  static constexpr ParamNames kParams{};
  static constexpr bool uses_scale = false;
  template <class T> static const T* prepare(TensorStats<T>&, bool, T*) { return nullptr; }
};

// sign(x): -1 if x < 0, +1 if x >= 0 (so ±0 -> +1), NaN stays NaN (x itself).
template <class V> FASTQ_INLINE V sign_pm1(V x) {
  return select(lt(x, vconst<V>(0.0)), vconst<V>(-1.0), select(ge(x, vconst<V>(0.0)), vconst<V>(1.0), x));
}

// heaviside(x): 1 if x > 0, 0 if x <= 0, NaN stays NaN.
template <class V> FASTQ_INLINE V heaviside(V x) {
  return select(gt(x, vconst<V>(0.0)), vconst<V>(1.0), select(le(x, vconst<V>(0.0)), vconst<V>(0.0), x));
}

// Clipped straight-through mask |x| <= clip (inclusive; NaN fails), or everywhere when the
// quantizer has clip_value=None (flag != 0).
template <class V> FASTQ_INLINE auto ste_mask(V x, V clip, V no_clip_flag) {
  return le(abs(x), clip) | gt(no_clip_flag, vconst<V>(0.0));
}

// Clipped STE backward: dy where the mask holds, +0 elsewhere.
template <class V> FASTQ_INLINE V ste_grad(V x, V dy, V clip, V no_clip_flag) {
  return select(ste_mask(x, clip, no_clip_flag), dy, vconst<V>(0.0));
}
