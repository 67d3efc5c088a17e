// NoOp (and the Quantizer base class): identity forward and backward. Also the "copy through
// the same binding" baseline of the benchmarks. No parameters.
struct NoOp : QuantizerBase {
  template <class V> static FASTQ_INLINE V forward(V x, V, const V*) { return x; }
  template <class V> static FASTQ_INLINE V backward(V, V dy, V, const V*) { return dy; }
};
