// pybind11 bindings of the binary GEMM: binary_matmul, the dense layer's plan and the popcount
// peak probe, as methods of `_core.Kernels` (every ISA's table through `_core.kernels_for`).
// Same rules as module.cpp: validate first, take raw pointers, run kernels with run_released.
#include <cmath>
#include <memory>

#include "bindings/binary_args.hpp"
#include "bindings/peaks.hpp"
#include "runtime/bgemm_ops.hpp"
#include "runtime/bitpack_ops.hpp"
#include "runtime/dispatch.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;

// out: None (a new array) or a writable C-contiguous int32 array of shape (m, n).
py::array binary_matmul(const Kernels& kern, const py::array& a, const py::array& b, long long k_in,
                        const py::object& out_obj) {
  const std::size_t k = check_k(k_in);
  require_words(a, "a", k, 2);
  require_words(b, "b", k, 2);
  const std::size_t m = static_cast<std::size_t>(a.shape(0)), n = static_cast<std::size_t>(b.shape(0));
  const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)};
  py::array out = output_array<std::int32_t>(out_obj, shape, "int32");
  fastq::BinaryOut o{};
  o.kind = fastq::BinaryOutKind::dots;
  o.data = out.mutable_data();
  o.ld = n;
  const fastq::PackedRows ap{static_cast<const std::uint64_t*>(a.data()), m, k, fastq::packed_words(k)};
  const auto* bp = static_cast<const std::uint64_t*>(b.data());
  run_released([&] { fastq::binary_gemm(*kern.table, ap, bp, false, n, o); });
  return out;
}

struct DensePlan {
  const fastq::KernelTable* table;
  py::array blocked, scale, bias;  // keep the buffers alive
  std::size_t k, n;
  bool packed_output, relu;
  std::vector<std::int32_t> lo;  // packed output: the integer thresholds (BinaryOut)
  std::vector<std::uint32_t> span;
};

DensePlan make_dense_plan(const Kernels& kern, const py::array& blocked, long long k_in, long long n_in,
                          const py::array& scale, const py::array& bias, bool packed_output, bool relu) {
  const std::size_t k = check_k(k_in);
  if (n_in < 0) value_error("n: expected a row count >= 0, got " + std::to_string(n_in));
  const std::size_t n = static_cast<std::size_t>(n_in), kw = fastq::packed_words(k);
  if (kind_of(blocked) != Kind::u64) type_error("blocked: expected a uint64 array, got dtype " + dtype_str(blocked));
  require_contiguous(blocked, "blocked");
  if (static_cast<std::size_t>(blocked.size()) != fastq::blocked_words(n, kw))
    value_error("blocked: expected " + std::to_string(fastq::blocked_words(n, kw)) + " words (the blocked layout of " +
                std::to_string(n) + " rows of " + std::to_string(k) + " bits), got " + std::to_string(blocked.size()));
  require_f32_vector(scale, "scale", n);
  require_f32_vector(bias, "bias", n);
  DensePlan d{kern.table, blocked, scale, bias, k, n, packed_output, relu, {}, {}};
  if (packed_output) {
    d.lo.resize(n);
    d.span.resize(n);
    fastq::binary_thresholds(static_cast<const float*>(scale.data()), static_cast<const float*>(bias.data()), relu, n,
                             k, d.lo.data(), d.span.data());
  }
  return d;
}

// y = dense(x): x is float32/float64 (..., k) or packed uint64 (..., words(k)); out: None or a
// writable C-contiguous array of y's shape: float32, or for packed output uint64 words.
py::array run_dense(const DensePlan& d, const py::array& x, const py::object& out_obj) {
  const std::size_t k = d.k, n = d.n, kw = fastq::packed_words(k);
  const Kind kd = kind_of(x);
  if (kd == Kind::u64) {
    require_words(x, "x", k, 0);
  } else {
    require_values(x, "x");
    if (static_cast<std::size_t>(x.shape(x.ndim() - 1)) != k)
      value_error("x: expected shape (..., " + std::to_string(k) + "), got " + shape_str(x));
  }
  std::size_t m;
  std::vector<py::ssize_t> shape = leading(x, &m);
  fastq::BinaryOut o{};
  py::array out;
  if (d.packed_output) {
    o.kind = fastq::BinaryOutKind::signs;
    o.ld = fastq::packed_words(n);
    o.lo = d.lo.data();
    o.span = d.span.data();
    shape.push_back(static_cast<py::ssize_t>(o.ld));
    out = output_array<std::uint64_t>(out_obj, shape, "uint64");
  } else {
    o.kind = fastq::BinaryOutKind::affine;
    o.ld = n;
    o.scale = static_cast<const float*>(d.scale.data());
    o.bias = static_cast<const float*>(d.bias.data());
    o.relu = d.relu;
    shape.push_back(static_cast<py::ssize_t>(n));
    out = output_array<float>(out_obj, shape, "float32");
  }
  o.data = out.mutable_data();
  const void* xp = x.data();
  const auto* bp = static_cast<const std::uint64_t*>(d.blocked.data());
  const fastq::KernelTable& t = *d.table;
  run_released([&] {
    const std::uint64_t* a = static_cast<const std::uint64_t*>(xp);
    std::unique_ptr<std::uint64_t[]> packed;  // sign + pack of float input: one pass over x (every word written)
    if (kd != Kind::u64) {
      packed.reset(new std::uint64_t[fastq::size_mul(m, kw)]);
      if (kd == Kind::f32)
        fastq::pack_bits(t, static_cast<const float*>(xp), m, k, packed.get());
      else
        fastq::pack_bits(t, static_cast<const double*>(xp), m, k, packed.get());
      a = packed.get();
    }
    fastq::binary_gemm(t, fastq::PackedRows{a, m, k, kw}, bp, true, n, o);
  });
  return out;
}

double popcount_peak(const Kernels& kern, double seconds) {
  check_seconds(seconds);
  return run_released([&] { return fastq::popcount_peak(*kern.table, seconds); });
}

}  // namespace

void bind_bgemm(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  // Registered before the methods that return it, so that their signatures name it.
  py::class_<DensePlan>(m, "DensePlan", "A binary dense layer's fixed operands (see Kernels.dense_plan).")
      .def("__call__", &run_dense, py::arg("x").noconvert(), py::arg("out") = py::none(),
           "y = act(sign(x) @ sign(W).T) * scale + bias in float32 (..., n), or its packed signs (..., ceil(n / 64)) "
           "when packed_output. x: float32/float64 (..., k) or packed uint64 (..., ceil(k / 64)); out: an array "
           "of exactly that to write into.")
      .def_property_readonly("isa", [](const DensePlan& d) { return std::string(d.table->isa); });
  cls.def("binary_matmul", &binary_matmul, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("k"),
          py::arg("out") = py::none(),
          "int32 (m, n) = sign(A) @ sign(B).T from packed rows a (m, ceil(k / 64)) and b (n, ceil(k / 64)).");
  cls.def("dense_plan", &make_dense_plan, py::arg("blocked").noconvert(), py::arg("k"), py::arg("n"),
          py::arg("scale").noconvert(), py::arg("bias").noconvert(), py::arg("packed_output"), py::arg("relu") = false,
          "A dense layer on this ISA: W (n rows of k bits) in the blocked layout (from pack_blocked), float32 "
          "scale and bias of shape (n,), relu: act = max(dot, 0) before the scale. Call it with x.");
  cls.def("popcount_peak", &popcount_peak, py::arg("seconds") = 0.2,
          "The xor + popcount peak of one core with this ISA's GEMM popcount method (on AVX2 the nibble "
          "lookup), in binary MACs (bits of XOR) per second: the GEMM's inner step on registers only, "
          "timed on the calling thread for about `seconds`, best of 3 runs.");
  cls.def(
      "_popcount_probe",
      [](const Kernels& kern, std::uint64_t iters, std::uint64_t seed) {
        const auto probe = kern.table->binary.popcount_probe;
        py::gil_scoped_release nogil;
        return probe(iters, seed);
      },
      py::arg("iters"), py::arg("seed"),
      "The untimed probe behind popcount_peak: `iters` iterations of _popcount_probe_macs binary MACs each; "
      "returns the checksum (the total count of ones, a function of seed).");
  cls.def_property_readonly(
      "_popcount_probe_macs", [](const Kernels& kern) { return kern.table->binary.probe_macs_per_iter; },
      "Binary MACs per iteration of _popcount_probe.");
  m.def(
      "popcount_peak", [](double seconds) { return peaks_by_isa(&fastq::popcount_peak, seconds); },
      py::arg("seconds") = 0.2,
      "{isa: the one-core xor + popcount peak in binary MACs per second} for every ISA this CPU runs "
      "(see Kernels.popcount_peak; about `seconds` each).");
}
