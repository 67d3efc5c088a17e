// SteHeaviside: heaviside(x) in {0, 1}; clipped straight-through gradient (symmetric mask).
// p[0] = clip_value, p[1] = no_clip: 1 when clip_value is None.
struct SteHeaviside : QuantizerBase {
  static constexpr ParamNames kParams{{"clip_value", "no_clip"}};
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return heaviside(x); }
  template <class V> static FASTQ_INLINE V backward(V x, V dy, V, const V* p) { return ste_grad(x, dy, p[0], p[1]); }
};
