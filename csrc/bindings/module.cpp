// pybind11 bindings: the only file that knows about Python. Every entry point validates its
// arrays (dtype, contiguity, size, writability) and takes raw pointers first, then releases the
// GIL around the kernel and touches no Python object inside. Arrays are never converted here
// (noconvert): the Python layer makes every conversion visibly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bindings/checks.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/ops.hpp"
#include "runtime/thread_pool.hpp"
#include "bindings/kernels.hpp"

namespace py = pybind11;
using fastq::KernelTable;
void bind_binary(py::module_& m);  // binary.cpp
void bind_float_ops(py::module_& m);  // float_ops.cpp

namespace {
using namespace fastq::bindings;

using fastq::Kernels;

enum class DType { f32, f64 };

DType float_dtype(const py::array& a, const char* name) {
  const py::dtype dt = a.dtype();
  const bool native = dt.byteorder() != '>';
  if (native && dt.num() == py::detail::npy_api::NPY_FLOAT_) return DType::f32;
  if (native && dt.num() == py::detail::npy_api::NPY_DOUBLE_) return DType::f64;
  type_error(std::string(name) + ": expected a float32 or float64 array in native byte order, got dtype " +
             dtype_str(a));
}

void require_same(const py::array& a, DType da, const py::array& b, const char* name) {
  if (float_dtype(b, name) != da)
    type_error(std::string(name) + ": expected dtype " + dtype_str(a) + " like x, got " + dtype_str(b));
  require_contiguous(b, name);
  if (b.size() != a.size())
    value_error(std::string(name) + ": expected " + std::to_string(a.size()) + " elements like x, got " +
                std::to_string(b.size()));
}

int check_id(int id) {
  if (id < 0 || id >= fastq::kNumQuantizers)
    value_error("quantizer id must be in [0, " + std::to_string(fastq::kNumQuantizers) + "), got " +
                std::to_string(id));
  return id;
}

// Rows x cols view of a C-contiguous array: the last axis is the channel axis.
std::size_t last_dim(const py::array& a) { return a.ndim() == 0 ? 1 : static_cast<std::size_t>(a.shape(a.ndim() - 1)); }

template <class T>
void quantize(const Kernels& k, int id, bool backward, const py::array& x, const py::array* dy, py::array& out,
              double p0, double p1, double p2, double p3) {
  const T params[fastq::kNumParams] = {static_cast<T>(p0), static_cast<T>(p1), static_cast<T>(p2),
                                       static_cast<T>(p3)};
  const std::size_t cols = last_dim(x);
  const std::size_t rows = cols ? static_cast<std::size_t>(x.size()) / cols : 0;
  const T* xp = static_cast<const T*>(x.data());
  const T* dyp = dy ? static_cast<const T*>(dy->data()) : nullptr;
  T* op = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release nogil;
  fastq::run_pass<T>(*k.table, id, backward, xp, dyp, op, rows, cols, params);
}

// One forward or backward pass; x's last axis is the channel axis (MagnitudeAwareSign).
void run(const Kernels& k, int id, bool backward, const py::array& x, const py::array* dy, py::array& out,
         double p0, double p1, double p2, double p3) {
  check_id(id);
  const DType dt = float_dtype(x, "x");
  require_contiguous(x, "x");
  require_same(x, dt, out, "out");
  require_writeable(out, "out");
  if (dy) require_same(x, dt, *dy, "dy");
  if (dt == DType::f32)
    quantize<float>(k, id, backward, x, dy, out, p0, p1, p2, p3);
  else
    quantize<double>(k, id, backward, x, dy, out, p0, p1, p2, p3);
}

// The common case of q(x, out) and q.grad(x, dy, out) in one native call: x (and dy) an
// ndarray (not a subclass) of float32 or float64, C-contiguous and aligned; out None (a new
// array) or a writable, C-contiguous, aligned ndarray of x's dtype and shape that is x (or dy)
// itself or overlaps neither. Anything else returns None and the Python layer takes over
// (conversions, copies, error messages), so this path never raises for bad arguments.
class BoundQuantizer {
 public:
  BoundQuantizer(const Kernels& k, int id, const std::vector<double>& p32, const std::vector<double>& p64)
      : table_(k.table), id_(check_id(id)) {
    if (p32.size() > fastq::kNumParams || p64.size() > fastq::kNumParams)
      value_error("params: expected at most " + std::to_string(fastq::kNumParams) + " values");
    std::copy(p32.begin(), p32.end(), p32_);
    std::copy(p64.begin(), p64.end(), p64_);
  }

  py::object forward(py::handle x, py::handle out) const { return apply(x, py::handle(), out); }
  py::object backward(py::handle x, py::handle dy, py::handle out) const { return apply(x, dy, out); }

 private:
  static constexpr int kDirect = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;

  // The type number of a plain, C-contiguous, aligned, native-order float32/float64 ndarray; -1 otherwise.
  static int direct_type(py::handle a) {
    if (Py_TYPE(a.ptr()) != py::detail::npy_api::get().PyArray_Type_) return -1;
    const auto* p = py::detail::array_proxy(a.ptr());
    if ((p->flags & kDirect) != kDirect) return -1;
    const auto* d = py::detail::array_descriptor_proxy(p->descr);
    if (d->byteorder == '>') return -1;
    return d->type_num == py::detail::npy_api::NPY_FLOAT_ || d->type_num == py::detail::npy_api::NPY_DOUBLE_ ? d->type_num
                                                                                                              : -1;
  }

  static bool same_shape(const py::array& a, const py::array& b) {
    return a.ndim() == b.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), b.shape());
  }

  static bool overlap(const py::array& a, const py::array& b) {
    const char* a0 = static_cast<const char*>(a.data());
    const char* b0 = static_cast<const char*>(b.data());
    return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
  }

  py::object apply(py::handle xh, py::handle dyh, py::handle outh) const {
    // Every py::array here borrows or is the new output: a default-constructed py::array would
    // allocate a NumPy array of its own.
    const int type = direct_type(xh);
    if (type < 0) return py::none();
    const auto x = py::reinterpret_borrow<py::array>(xh);
    const auto dy = py::reinterpret_borrow<py::array>(dyh ? dyh : xh);  // x when there is no dy
    if (dyh && (direct_type(dyh) != type || !same_shape(x, dy))) return py::none();
    if (!outh.is_none()) {
      if (direct_type(outh) != type) return py::none();
      const auto o = py::reinterpret_borrow<py::array>(outh);
      if (!o.writeable() || !same_shape(x, o)) return py::none();
      if (!outh.is(xh) && overlap(x, o)) return py::none();
      if (dyh && !outh.is(dyh) && overlap(dy, o)) return py::none();
    }
    auto out = outh.is_none() ? py::array(x.dtype(), std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()))
                              : py::reinterpret_borrow<py::array>(outh);
    const py::array* dyp = dyh ? &dy : nullptr;
    const Kernels k{table_};
    if (type == py::detail::npy_api::NPY_FLOAT_)
      quantize<float>(k, id_, bool(dyh), x, dyp, out, p32_[0], p32_[1], p32_[2], p32_[3]);
    else
      quantize<double>(k, id_, bool(dyh), x, dyp, out, p64_[0], p64_[1], p64_[2], p64_[3]);
    return std::move(out);
  }

  const KernelTable* table_;
  int id_;
  double p32_[fastq::kNumParams] = {};
  double p64_[fastq::kNumParams] = {};
};

py::array checked_input(const py::array& x) {
  float_dtype(x, "x");
  require_contiguous(x, "x");
  return x;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastq native kernels (internal: use the fastq package)";
  py::class_<Kernels>(m, "Kernels", "One ISA's kernel table.")
      .def_property_readonly("isa", [](const Kernels& k) { return std::string(k.table->isa); })
      .def("__repr__", [](const Kernels& k) { return "<fastq._core.Kernels isa='" + std::string(k.table->isa) + "'>"; })
      .def(
          "forward",
          [](const Kernels& k, int id, const py::array& x, py::array& out, double p0, double p1, double p2,
             double p3) { run(k, id, false, x, nullptr, out, p0, p1, p2, p3); },
          py::arg("id"), py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("p0") = 0.0,
          py::arg("p1") = 0.0, py::arg("p2") = 0.0, py::arg("p3") = 0.0,
          "out = forward pass of quantizer `id` (x, out: same float dtype and size, C-contiguous).")
      .def(
          "backward",
          [](const Kernels& k, int id, const py::array& x, const py::array& dy, py::array& out, double p0,
             double p1, double p2, double p3) { run(k, id, true, x, &dy, out, p0, p1, p2, p3); },
          py::arg("id"), py::arg("x").noconvert(), py::arg("dy").noconvert(), py::arg("out").noconvert(),
          py::arg("p0") = 0.0, py::arg("p1") = 0.0, py::arg("p2") = 0.0, py::arg("p3") = 0.0,
          "out = input gradient of quantizer `id` given upstream gradient dy.")
      .def(
          "abs_sum",
          [](const Kernels& k, const py::array& x) {
            const std::size_t n = static_cast<std::size_t>(checked_input(x).size());
            if (float_dtype(x, "x") == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              py::gil_scoped_release nogil;
              return fastq::abs_sum<float>(*k.table, p, n);
            }
            const double* p = static_cast<const double*>(x.data());
            py::gil_scoped_release nogil;
            return fastq::abs_sum<double>(*k.table, p, n);
          },
          py::arg("x").noconvert(), "Sum of |x| accumulated in float64, in fastq's fixed order.")
      .def(
          "max_abs",
          [](const Kernels& k, const py::array& x) -> double {
            const std::size_t n = static_cast<std::size_t>(checked_input(x).size());
            if (float_dtype(x, "x") == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              py::gil_scoped_release nogil;
              return fastq::max_abs<float>(*k.table, p, n);
            }
            const double* p = static_cast<const double*>(x.data());
            py::gil_scoped_release nogil;
            return fastq::max_abs<double>(*k.table, p, n);
          },
          py::arg("x").noconvert(), "max |x| (NaN if any element is NaN).")
      .def(
          "channel_abs_mean",
          [](const Kernels& k, const py::array& x, py::array& out) {
            const DType dt = float_dtype(checked_input(x), "x");
            const std::size_t cols = last_dim(x);
            const std::size_t rows = cols ? static_cast<std::size_t>(x.size()) / cols : 0;
            if (float_dtype(out, "out") != dt) type_error("out: expected dtype " + dtype_str(x) + ", got " + dtype_str(out));
            require_contiguous(out, "out");
            require_writeable(out, "out");
            if (static_cast<std::size_t>(out.size()) != cols)
              value_error("out: expected " + std::to_string(cols) + " elements (one per channel), got " +
                          std::to_string(out.size()));
            if (dt == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              float* o = static_cast<float*>(out.mutable_data());
              py::gil_scoped_release nogil;
              fastq::channel_abs_mean<float>(*k.table, p, rows, cols, o);
            } else {
              const double* p = static_cast<const double*>(x.data());
              double* o = static_cast<double*>(out.mutable_data());
              py::gil_scoped_release nogil;
              fastq::channel_abs_mean<double>(*k.table, p, rows, cols, o);
            }
          },
          py::arg("x").noconvert(), py::arg("out").noconvert(),
          "out[c] = mean |x[..., c]| over all other axes (float64 sums, rounded once).")
      .def(
          "tanh",
          [](const Kernels& k, const py::array& x, py::array& out) {
            const DType dt = float_dtype(checked_input(x), "x");
            require_same(x, dt, out, "out");
            require_writeable(out, "out");
            const std::size_t n = static_cast<std::size_t>(x.size());
            py::gil_scoped_release nogil;
            if (dt == DType::f32)
              fastq::tanh<float>(*k.table, static_cast<const float*>(x.data()), static_cast<float*>(out.mutable_data()), n);
            else
              fastq::tanh<double>(*k.table, static_cast<const double*>(x.data()), static_cast<double*>(out.mutable_data()), n);
          },
          py::arg("x").noconvert(), py::arg("out").noconvert(), "out = fastq's tanh (the one DoReFa uses).");

  py::class_<BoundQuantizer>(m, "BoundQuantizer",
                             "One quantizer's kernel and parameters (float32 and float64 values) on one table: "
                             "the fast path of q(x, out) and q.grad(x, dy, out).")
      .def(py::init<const Kernels&, int, const std::vector<double>&, const std::vector<double>&>(), py::arg("kernels"),
           py::arg("id"), py::arg("params_f32"), py::arg("params_f64"))
      .def("forward", &BoundQuantizer::forward, py::arg("x"), py::arg("out"),
           "The forward pass into out (None: a new array), or None when the arguments need the Python layer.")
      .def("backward", &BoundQuantizer::backward, py::arg("x"), py::arg("dy"), py::arg("out"),
           "The backward pass into out (None: a new array), or None when the arguments need the Python layer.");

  // Chosen on first call (fastq/__init__.py calls it first, so a bad FASTQ_FORCE_ISA makes
  // `import fastq` raise ValueError / RuntimeError).
  m.def(
      "active_kernels", [] { return Kernels{&fastq::active_table()}; },
      "The active kernel table: FASTQ_FORCE_ISA, or the best this CPU runs.");
  m.def(
      "kernels_for", [](const std::string& isa) { return Kernels{&fastq::table_for(isa)}; }, py::arg("isa"),
      "The kernel table of one ISA (ValueError: unknown; RuntimeError: this CPU cannot run it).");
  m.def("compiled_isas", &fastq::compiled_isas, "ISAs compiled into this build, best first.");
  m.def("available_isas", &fastq::available_isas, "Compiled ISAs this CPU can run, best first.");
  m.def("get_num_threads", &fastq::get_num_threads);
  m.def("set_num_threads", &fastq::set_num_threads, py::arg("n"));

  py::dict ids;
#define FASTQ_ID_ENTRY(Name) ids[#Name] = static_cast<int>(fastq::k##Name);
  FASTQ_QUANTIZERS(FASTQ_ID_ENTRY)
#undef FASTQ_ID_ENTRY
  m.attr("quantizer_ids") = ids;
  m.attr("num_params") = fastq::kNumParams;
  m.attr("stream_bytes") = fastq::kStreamBytes;
#if defined(__clang__)
  m.attr("compiler") = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  m.attr("compiler") = std::string("GCC ") + __VERSION__;
#endif
#if defined(NDEBUG)
  m.attr("build_type") = "release (NDEBUG)";
#else
  m.attr("build_type") = "debug (assertions on)";
#endif
  bind_binary(m);
  bind_float_ops(m);
}
