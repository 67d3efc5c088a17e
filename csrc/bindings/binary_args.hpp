// Argument checks of the binary family's bindings (bitpack.cpp, bgemm.cpp, bconv.cpp, bpool.cpp),
// on top of checks.hpp: same rules (TypeError for a wrong dtype, ValueError for a wrong shape or
// parameter, naming the argument).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings/checks.hpp"
#include "bindings/kernels.hpp"
#include "runtime/binary_common.hpp"

namespace fastq {
namespace bindings {

enum class Kind { f32, f64, u64, other };

inline Kind kind_of(const py::array& a) {
  const py::dtype dt = a.dtype();
  if (dt.byteorder() == '>') return Kind::other;  // fastq runs on little-endian machines
  if (dt.kind() == 'f' && dt.itemsize() == 4) return Kind::f32;
  if (dt.kind() == 'f' && dt.itemsize() == 8) return Kind::f64;
  if (dt.kind() == 'u' && dt.itemsize() == 8) return Kind::u64;
  return Kind::other;
}

inline std::size_t check_k(long long k) {
  if (k < 0 || k > std::numeric_limits<std::int32_t>::max())
    value_error("k: expected a bit count in [0, 2**31), got " + std::to_string(k));
  return static_cast<std::size_t>(k);
}

// A float32 / float64 array of values, C-contiguous, at least 1-D.
inline Kind require_values(const py::array& x, const char* name) {
  const Kind kd = kind_of(x);
  if (kd != Kind::f32 && kd != Kind::f64)
    type_error(std::string(name) + ": expected a float32 or float64 array in native byte order, got dtype " +
               dtype_str(x));
  require_contiguous(x, name);
  if (x.ndim() == 0) value_error(std::string(name) + ": expected at least 1 dimension, got a 0-d array");
  return kd;
}

// Packed words of k-bit rows: uint64, C-contiguous, `ndim` dimensions (0: any >= 1), the
// last one packed_words(k).
inline void require_words(const py::array& w, const char* name, std::size_t k, py::ssize_t ndim) {
  if (kind_of(w) != Kind::u64)
    type_error(std::string(name) + ": expected a uint64 array of packed words in native byte order, got dtype " +
               dtype_str(w));
  require_contiguous(w, name);
  if (ndim ? w.ndim() != ndim : w.ndim() == 0)
    value_error(std::string(name) + ": expected " + (ndim ? std::to_string(ndim) + "-D" : "an at least 1-D") +
                " array of packed words, got shape " + shape_str(w));
  const std::size_t kw = fastq::packed_words(k);
  if (static_cast<std::size_t>(w.shape(w.ndim() - 1)) != kw)
    value_error(std::string(name) + ": expected " + std::to_string(kw) + " words per row for k = " + std::to_string(k) +
                " bits, got shape " + shape_str(w));
}

inline void require_f32_vector(const py::array& v, const char* name, std::size_t n) {
  if (kind_of(v) != Kind::f32) type_error(std::string(name) + ": expected a float32 array, got dtype " + dtype_str(v));
  require_contiguous(v, name);
  if (v.ndim() != 1 || static_cast<std::size_t>(v.shape(0)) != n)
    value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ",), got " + shape_str(v));
}

// Leading dimensions of a (all but the last), and their product.
inline std::vector<py::ssize_t> leading(const py::array& a, std::size_t* rows) {
  std::vector<py::ssize_t> s(a.shape(), a.shape() + a.ndim() - 1);
  *rows = 1;
  for (py::ssize_t d : s) *rows *= static_cast<std::size_t>(d);
  return s;
}

// out: None (a new C-contiguous array of `shape` and dtype T) or a writable C-contiguous array of
// exactly that shape and dtype (`what` names the dtype in the messages, e.g. "int32").
template <class T>
py::array output_array(const py::object& out_obj, const std::vector<py::ssize_t>& shape, const char* what) {
  if (out_obj.is_none()) return py::array_t<T>(shape);
  if (!py::isinstance<py::array>(out_obj))
    type_error(std::string("out: expected a NumPy ") + what + " array, got " +
               py::str(py::type::of(out_obj).attr("__name__")).cast<std::string>());
  auto out = py::reinterpret_borrow<py::array>(out_obj);
  const py::dtype dt = out.dtype();
  const char kind = std::is_floating_point<T>::value ? 'f' : std::is_signed<T>::value ? 'i' : 'u';
  if (!(dt.kind() == kind && dt.itemsize() == static_cast<py::ssize_t>(sizeof(T)) && dt.byteorder() != '>'))
    value_error(std::string("out: expected dtype ") + what + ", got " + dtype_str(out));
  if (std::vector<py::ssize_t>(out.shape(), out.shape() + out.ndim()) != shape)
    value_error("out: expected shape " + shape_str(shape) + ", got " + shape_str(out));
  require_contiguous(out, "out");
  require_writeable(out, "out");
  return out;
}
}  // namespace bindings
}  // namespace fastq
