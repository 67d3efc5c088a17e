// The binary (packed-bit) family's bindings, one file per kernel family: bitpack.cpp, bgemm.cpp,
// bconv.cpp, bpool.cpp. module.cpp calls bind_binary once.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_bitpack(py::module_& m);
void bind_bgemm(py::module_& m);
void bind_bconv(py::module_& m);
void bind_bpool(py::module_& m);

void bind_binary(py::module_& m) {
  bind_bitpack(m);
  bind_bgemm(m);
  bind_bconv(m);
  bind_bpool(m);
}
