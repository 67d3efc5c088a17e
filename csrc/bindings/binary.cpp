// The binary (packed-bit) family's bindings, one file per kernel family: bitpack.cpp, bgemm.cpp,
// bconv.cpp, bpool.cpp. module.cpp calls bind_binary once.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/binary_args.hpp"

namespace py = pybind11;

void bind_bitpack(py::module_& m);
void bind_bgemm(py::module_& m);
void bind_bconv(py::module_& m);
void bind_bpool(py::module_& m);

void bind_binary(py::module_& m) {
  // The output checks of the binary kernels, for the Python layer to run before it converts (and
  // so copies) an input: validation and allocation from shapes first (issue #12).
  m.def(
      "_output",
      [](const std::vector<py::ssize_t>& shape, const std::string& dtype, const py::object& out) -> py::array {
        using namespace fastq::bindings;
        if (dtype == "int32") return output_array<std::int32_t>(out, shape, "int32");
        if (dtype == "float32") return output_array<float>(out, shape, "float32");
        if (dtype == "uint64") return output_array<std::uint64_t>(out, shape, "uint64");
        value_error("dtype: expected 'int32', 'float32' or 'uint64', got '" + dtype + "'");
      },
      py::arg("shape"), py::arg("dtype"), py::arg("out") = py::none(),
      "out checked against (shape, dtype) as the binary kernels check it, or a new array of that shape and dtype.");
  bind_bitpack(m);
  bind_bgemm(m);
  bind_bconv(m);
  bind_bpool(m);
}
