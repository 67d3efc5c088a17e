// pybind11 bindings of the packed-bit kernels: methods of `_core.Kernels` (so every ISA's table
// is reachable through `_core.kernels_for(isa)`). Same rules as module.cpp: validate dtype,
// layout and shapes first (TypeError for a wrong dtype, ValueError for a wrong shape or
// parameter, naming the argument), take raw pointers, then release the GIL around the kernel.
// Nothing is converted here; outputs are allocated here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bindings/checks.hpp"
#include "bindings/kernels.hpp"
#include "runtime/binary_ops.hpp"
#include "runtime/dispatch.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;

enum class Kind { f32, f64, u64, other };

Kind kind_of(const py::array& a) {
  const py::dtype dt = a.dtype();
  if (dt.byteorder() == '>') return Kind::other;  // fastq runs on little-endian machines
  if (dt.kind() == 'f' && dt.itemsize() == 4) return Kind::f32;
  if (dt.kind() == 'f' && dt.itemsize() == 8) return Kind::f64;
  if (dt.kind() == 'u' && dt.itemsize() == 8) return Kind::u64;
  return Kind::other;
}

std::size_t check_k(long long k) {
  if (k < 0 || k > std::numeric_limits<std::int32_t>::max())
    value_error("k: expected a bit count in [0, 2**31), got " + std::to_string(k));
  return static_cast<std::size_t>(k);
}

// A float32 / float64 array of values, C-contiguous, at least 1-D.
Kind require_values(const py::array& x, const char* name) {
  const Kind kd = kind_of(x);
  if (kd != Kind::f32 && kd != Kind::f64)
    type_error(std::string(name) + ": expected a float32 or float64 array in native byte order, got dtype " + dtype_str(x));
  require_contiguous(x, name);
  if (x.ndim() == 0) value_error(std::string(name) + ": expected at least 1 dimension, got a 0-d array");
  return kd;
}

// Packed words of k-bit rows: uint64, C-contiguous, `ndim` dimensions (0: any >= 1), the
// last one packed_words(k).
void require_words(const py::array& w, const char* name, std::size_t k, py::ssize_t ndim) {
  if (kind_of(w) != Kind::u64)
    type_error(std::string(name) + ": expected a uint64 array of packed words in native byte order, got dtype " + dtype_str(w));
  require_contiguous(w, name);
  if (ndim ? w.ndim() != ndim : w.ndim() == 0)
    value_error(std::string(name) + ": expected " + (ndim ? std::to_string(ndim) + "-D" : "an at least 1-D") +
                " array of packed words, got shape " + shape_str(w));
  const std::size_t kw = fastq::packed_words(k);
  if (static_cast<std::size_t>(w.shape(w.ndim() - 1)) != kw)
    value_error(std::string(name) + ": expected " + std::to_string(kw) + " words per row for k = " + std::to_string(k) +
                " bits, got shape " + shape_str(w));
}

void require_f32_vector(const py::array& v, const char* name, std::size_t n) {
  if (kind_of(v) != Kind::f32) type_error(std::string(name) + ": expected a float32 array, got dtype " + dtype_str(v));
  require_contiguous(v, name);
  if (v.ndim() != 1 || static_cast<std::size_t>(v.shape(0)) != n)
    value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ",), got " + shape_str(v));
}

// Leading dimensions of a (all but the last), and their product.
std::vector<py::ssize_t> leading(const py::array& a, std::size_t* rows) {
  std::vector<py::ssize_t> s(a.shape(), a.shape() + a.ndim() - 1);
  *rows = 1;
  for (py::ssize_t d : s) *rows *= static_cast<std::size_t>(d);
  return s;
}

py::array pack_bits(const Kernels& kern, const py::array& x) {
  const Kind kd = require_values(x, "x");
  std::size_t rows;
  std::vector<py::ssize_t> shape = leading(x, &rows);
  const std::size_t k = check_k(x.shape(x.ndim() - 1));
  shape.push_back(static_cast<py::ssize_t>(fastq::packed_words(k)));
  py::array_t<std::uint64_t> out(shape);
  std::uint64_t* o = out.mutable_data();
  const void* p = x.data();
  py::gil_scoped_release nogil;
  if (kd == Kind::f32)
    fastq::pack_bits(*kern.table, static_cast<const float*>(p), rows, k, o);
  else
    fastq::pack_bits(*kern.table, static_cast<const double*>(p), rows, k, o);
  return std::move(out);
}

py::array unpack_bits(const Kernels& kern, const py::array& words, long long k_in) {
  const std::size_t k = check_k(k_in);
  require_words(words, "words", k, 0);
  std::size_t rows;
  std::vector<py::ssize_t> shape = leading(words, &rows);
  shape.push_back(static_cast<py::ssize_t>(k));
  py::array_t<float> out(shape);
  float* o = out.mutable_data();
  const auto* w = static_cast<const std::uint64_t*>(words.data());
  py::gil_scoped_release nogil;
  fastq::unpack_bits(*kern.table, w, rows, k, o);
  return std::move(out);
}

py::array pack_blocked(const Kernels& kern, const py::array& words, long long k_in) {
  const std::size_t k = check_k(k_in);
  require_words(words, "words", k, 2);
  const std::size_t n = static_cast<std::size_t>(words.shape(0)), kw = fastq::packed_words(k);
  const std::size_t blocks = (n + fastq::kBinaryBlock - 1) / fastq::kBinaryBlock;
  py::array_t<std::uint64_t> out({static_cast<py::ssize_t>(blocks), static_cast<py::ssize_t>(kw),
                                  static_cast<py::ssize_t>(fastq::kBinaryBlock)});
  std::uint64_t* o = out.mutable_data();
  const auto* w = static_cast<const std::uint64_t*>(words.data());
  py::gil_scoped_release nogil;
  fastq::pack_blocked(*kern.table, w, n, kw, o);
  return std::move(out);
}

// out: None (a new array) or a writable C-contiguous int32 array of shape (m, n).
py::array binary_matmul(const Kernels& kern, const py::array& a, const py::array& b, long long k_in,
                        const py::object& out_obj) {
  const std::size_t k = check_k(k_in);
  require_words(a, "a", k, 2);
  require_words(b, "b", k, 2);
  const std::size_t m = static_cast<std::size_t>(a.shape(0)), n = static_cast<std::size_t>(b.shape(0));
  py::array out;
  if (out_obj.is_none()) {
    out = py::array_t<std::int32_t>({static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)});
  } else {
    if (!py::isinstance<py::array>(out_obj))
      type_error("out: expected a NumPy int32 array, got " + py::str(py::type::of(out_obj).attr("__name__")).cast<std::string>());
    out = py::reinterpret_borrow<py::array>(out_obj);
    const py::dtype dt = out.dtype();
    if (!(dt.kind() == 'i' && dt.itemsize() == 4 && dt.byteorder() != '>'))
      value_error("out: expected dtype int32, got " + dtype_str(out));
    if (out.ndim() != 2 || static_cast<std::size_t>(out.shape(0)) != m || static_cast<std::size_t>(out.shape(1)) != n)
      value_error("out: expected shape (" + std::to_string(m) + ", " + std::to_string(n) + "), got " + shape_str(out));
    require_contiguous(out, "out");
    require_writeable(out, "out");
  }
  const fastq::BinaryOut o{static_cast<std::int32_t*>(out.mutable_data()), nullptr, nullptr, nullptr, nullptr, n};
  const auto* ap = static_cast<const std::uint64_t*>(a.data());
  const auto* bp = static_cast<const std::uint64_t*>(b.data());
  py::gil_scoped_release nogil;
  fastq::binary_gemm(*kern.table, ap, m, bp, false, n, k, o);
  return out;
}

struct DensePlan {
  const fastq::KernelTable* table;
  py::array blocked, scale, bias;  // keep the buffers alive
  std::size_t k, n;
  bool packed_output;
};

DensePlan make_dense_plan(const Kernels& kern, const py::array& blocked, long long k_in, long long n_in,
                          const py::array& scale, const py::array& bias, bool packed_output) {
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
  return DensePlan{kern.table, blocked, scale, bias, k, n, packed_output};
}

// y = dense(x): x is float32/float64 (..., k) or packed uint64 (..., words(k)); out: None or,
// for float output, a writable C-contiguous float32 array of y's shape.
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
  py::array out;
  fastq::BinaryOut o{nullptr, nullptr, nullptr, static_cast<const float*>(d.scale.data()),
                     static_cast<const float*>(d.bias.data()), 0};
  if (d.packed_output) {
    if (!out_obj.is_none()) value_error("out: only for float output (this layer has packed_output=True)");
    o.ld = fastq::packed_words(n);
    shape.push_back(static_cast<py::ssize_t>(o.ld));
    py::array_t<std::uint64_t> bits(shape);
    o.bits = bits.mutable_data();
    out = std::move(bits);
  } else {
    o.ld = n;
    shape.push_back(static_cast<py::ssize_t>(n));
    if (out_obj.is_none()) {
      out = py::array_t<float>(shape);
    } else {
      if (!py::isinstance<py::array>(out_obj))
        type_error("out: expected a NumPy float32 array, got " +
                   py::str(py::type::of(out_obj).attr("__name__")).cast<std::string>());
      out = py::reinterpret_borrow<py::array>(out_obj);
      if (kind_of(out) != Kind::f32) value_error("out: expected dtype float32, got " + dtype_str(out));
      if (std::vector<py::ssize_t>(out.shape(), out.shape() + out.ndim()) != shape)
        value_error("out: expected shape " + shape_str(shape) + ", got " + shape_str(out));
      require_contiguous(out, "out");
      require_writeable(out, "out");
    }
    o.y = static_cast<float*>(out.mutable_data());
  }
  const void* xp = x.data();
  const auto* bp = static_cast<const std::uint64_t*>(d.blocked.data());
  const fastq::KernelTable& t = *d.table;
  py::gil_scoped_release nogil;
  const std::uint64_t* a = static_cast<const std::uint64_t*>(xp);
  std::vector<std::uint64_t> packed;  // sign + pack of float input: one pass over x
  if (kd != Kind::u64) {
    packed.resize(m * kw);
    if (kd == Kind::f32)
      fastq::pack_bits(t, static_cast<const float*>(xp), m, k, packed.data());
    else
      fastq::pack_bits(t, static_cast<const double*>(xp), m, k, packed.data());
    a = packed.data();
  }
  fastq::binary_gemm(t, a, m, bp, true, n, k, o);
  return out;
}

double check_seconds(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    value_error("seconds: expected a finite time > 0, got " + std::to_string(seconds));
  return seconds;
}

double popcount_peak(const Kernels& kern, double seconds) {
  check_seconds(seconds);
  py::gil_scoped_release nogil;
  return fastq::popcount_peak(*kern.table, seconds);
}

}  // namespace

void bind_binary(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  cls.def("pack_bits", &pack_bits, py::arg("x").noconvert(),
          "Sign-binarize and bit-pack the last axis of x (float32/float64, C-contiguous): uint64 words "
          "x.shape[:-1] + (ceil(k / 64),), bit = 1 exactly when x < 0, zero padding.");
  cls.def("unpack_bits", &unpack_bits, py::arg("words").noconvert(), py::arg("k"),
          "Packed words (..., ceil(k / 64)) -> float32 (..., k) of -1 (bit 1) and +1 (bit 0).");
  cls.def("pack_blocked", &pack_blocked, py::arg("words").noconvert(), py::arg("k"),
          "n x ceil(k / 64) packed rows -> the GEMM kernels' blocked layout, shape (ceil(n / 8), ceil(k / 64), 8).");
  cls.def("binary_matmul", &binary_matmul, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("k"),
          py::arg("out") = py::none(),
          "int32 (m, n) = sign(A) @ sign(B).T from packed rows a (m, ceil(k / 64)) and b (n, ceil(k / 64)).");
  cls.def("dense_plan", &make_dense_plan, py::arg("blocked").noconvert(), py::arg("k"), py::arg("n"),
          py::arg("scale").noconvert(), py::arg("bias").noconvert(), py::arg("packed_output"),
          "A dense layer on this ISA: W (n rows of k bits) in the blocked layout (from pack_blocked), float32 "
          "scale and bias of shape (n,). Call it with x.");
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
      "popcount_peak",
      [](double seconds) {
        check_seconds(seconds);
        py::dict rates;
        for (const std::string& isa : fastq::available_isas()) {
          const fastq::KernelTable& t = fastq::table_for(isa);
          double r;
          {
            py::gil_scoped_release nogil;
            r = fastq::popcount_peak(t, seconds);
          }
          rates[py::str(isa)] = r;
        }
        return rates;
      },
      py::arg("seconds") = 0.2,
      "{isa: the one-core xor + popcount peak in binary MACs per second} for every ISA this CPU runs "
      "(see Kernels.popcount_peak; about `seconds` each).");
  py::class_<DensePlan>(m, "DensePlan", "A binary dense layer's fixed operands (see Kernels.dense_plan).")
      .def("__call__", &run_dense, py::arg("x").noconvert(), py::arg("out") = py::none(),
           "y = (sign(x) @ sign(W).T) * scale + bias in float32 (..., n), or its packed signs (..., ceil(n / 64)) "
           "when packed_output. x: float32/float64 (..., k) or packed uint64 (..., ceil(k / 64)).")
      .def_property_readonly("isa", [](const DensePlan& d) { return std::string(d.table->isa); });
}
