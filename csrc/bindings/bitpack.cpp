// pybind11 bindings of the bit-packing kernels: methods of `_core.Kernels` (so every ISA's
// table is reachable through `_core.kernels_for(isa)`). Same rules as module.cpp: validate
// dtype, layout and shapes first, take raw pointers, then run the kernel with the GIL released, answering Ctrl-C
// (run_released). Nothing is converted here; outputs are allocated here.
#include "bindings/binary_args.hpp"
#include "runtime/bitpack_ops.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;

py::array pack_bits(const Kernels& kern, const py::array& x) {
  const Kind kd = require_values(x, "x");
  std::size_t rows;
  std::vector<py::ssize_t> shape = leading(x, &rows);
  const std::size_t k = check_k(x.shape(x.ndim() - 1));
  shape.push_back(static_cast<py::ssize_t>(fastq::packed_words(k)));
  py::array_t<std::uint64_t> out(shape);
  std::uint64_t* o = out.mutable_data();
  const void* p = x.data();
  run_released([&] {
    if (kd == Kind::f32)
      fastq::pack_bits(*kern.table, static_cast<const float*>(p), rows, k, o);
    else
      fastq::pack_bits(*kern.table, static_cast<const double*>(p), rows, k, o);
  });
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
  run_released([&] { fastq::unpack_bits(*kern.table, w, rows, k, o); });
  return std::move(out);
}

py::array pack_blocked(const Kernels& kern, const py::array& words, long long k_in) {
  const std::size_t k = check_k(k_in);
  require_words(words, "words", k, 2);
  const std::size_t n = static_cast<std::size_t>(words.shape(0)), kw = fastq::packed_words(k);
  const std::size_t blocks = (n + fastq::kBinaryBlock - 1) / fastq::kBinaryBlock;
  py::array_t<std::uint64_t> out(
      {static_cast<py::ssize_t>(blocks), static_cast<py::ssize_t>(kw), static_cast<py::ssize_t>(fastq::kBinaryBlock)});
  std::uint64_t* o = out.mutable_data();
  const auto* w = static_cast<const std::uint64_t*>(words.data());
  run_released([&] { fastq::pack_blocked(*kern.table, w, n, kw, o); });
  return std::move(out);
}
}  // namespace

void bind_bitpack(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  cls.def("pack_bits", &pack_bits, py::arg("x").noconvert(),
          "Sign-binarize and bit-pack the last axis of x (float32/float64, C-contiguous): uint64 words "
          "x.shape[:-1] + (ceil(k / 64),), bit = 1 exactly when x < 0, zero padding.");
  cls.def("unpack_bits", &unpack_bits, py::arg("words").noconvert(), py::arg("k"),
          "Packed words (..., ceil(k / 64)) -> float32 (..., k) of -1 (bit 1) and +1 (bit 0).");
  cls.def("pack_blocked", &pack_blocked, py::arg("words").noconvert(), py::arg("k"),
          "n x ceil(k / 64) packed rows -> the GEMM kernels' blocked layout, shape (ceil(n / 8), ceil(k / 64), 8).");
}
