// Argument checks shared by the bindings (module.cpp, binary.cpp). Messages name the argument,
// what was expected and what arrived; TypeError for a wrong type or dtype, ValueError for a
// wrong layout, shape or value.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "runtime/thread_pool.hpp"

namespace fastq {
namespace bindings {
namespace py = pybind11;

[[noreturn]] inline void type_error(const std::string& msg) { throw py::type_error(msg); }
[[noreturn]] inline void value_error(const std::string& msg) { throw py::value_error(msg); }

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

inline std::string shape_str(const std::vector<py::ssize_t>& shape) {
  const std::size_t n = shape.size();
  std::string s = "(";
  for (std::size_t i = 0; i < n; ++i) s += std::to_string(shape[i]) + (n == 1 ? "," : i + 1 < n ? ", " : "");
  return s + ")";
}

inline std::string shape_str(const py::array& a) {
  return shape_str(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

// C-contiguous, and aligned to its item size (the kernels read items through typed pointers;
// NumPy allows misaligned views, e.g. of a byte buffer at an odd offset).
inline void require_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style)) value_error(std::string(name) + ": expected a C-contiguous array");
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    value_error(std::string(name) +
                ": expected an aligned array (its data address is not a multiple of its item size)");
}

inline void require_writeable(const py::array& a, const char* name) {
  if (!a.writeable()) value_error(std::string(name) + ": the output array is read-only");
}
// The Ctrl-C check of a parallel region (runtime/thread_pool.hpp): take the GIL for a moment and
// run Python's pending signal handlers. Only the main thread sees signals; elsewhere this is a
// cheap no-op. A handler that raises (SIGINT: KeyboardInterrupt) leaves its exception set on
// this thread and stops the region.
inline bool poll_signals(void*) {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

// Runs f() with the GIL released, answering Ctrl-C: every parallel region f starts polls
// poll_signals about every 20 ms, and an interrupted region raises the handler's exception
// (KeyboardInterrupt) here, once the GIL is back. Kernel exceptions (std::bad_alloc ->
// MemoryError, ...) propagate as pybind11 translates them. Use it around every kernel call.
template <class F> decltype(auto) run_released(F&& f) {
  fastq::InterruptScope scope(&poll_signals, nullptr);
  try {
    py::gil_scoped_release nogil;
    return std::forward<F>(f)();
  } catch (const fastq::Interrupted&) {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
}
}  // namespace bindings
}  // namespace fastq
