// pybind11 bindings: the only file that knows about Python. Every entry point validates its
// arrays (dtype, contiguity, size, writability) and takes raw pointers first, then releases the
// GIL around the kernel and touches no Python object inside. Arrays are never converted here
// (noconvert): the Python layer makes every conversion visibly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bindings/checks.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/ops.hpp"
#include "runtime/thread_pool.hpp"
#include "bindings/kernels.hpp"

namespace py = pybind11;
using fastq::KernelTable;
void bind_binary(py::module_& m);     // binary.cpp
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

using Params = std::array<double, fastq::kNumParams>;

// A quantizer's parameter slots from a {name: number} mapping, by the names its C++ file
// declares (kParams). Unknown names are a ValueError; missing ones are 0.
Params params_by_name(const KernelTable& t, int id, const py::handle& values) {
  Params p{};
  if (values.is_none()) return p;
  if (!py::isinstance<py::dict>(values))
    type_error("params: expected a dict of parameter names to numbers, got " +
               std::string(py::str(py::type::handle_of(values).attr("__name__"))));
  const fastq::ParamNames& names = t.params[id];
  for (const auto& item : py::reinterpret_borrow<py::dict>(values)) {
    const std::string key = py::str(item.first);
    int slot = -1;
    std::string known;
    for (int i = 0; i < fastq::kNumParams && names.name[i]; ++i) {
      if (key == names.name[i]) slot = i;
      known += std::string(known.empty() ? "" : ", ") + names.name[i];
    }
    if (slot < 0)
      value_error("params: unknown parameter '" + key + "'; this quantizer has: " + (known.empty() ? "none" : known));
    if (!py::isinstance<py::float_>(item.second) && !py::isinstance<py::int_>(item.second))
      type_error("params['" + key + "']: expected a number, got " +
                 std::string(py::str(py::type::handle_of(item.second).attr("__name__"))));
    p[slot] = item.second.cast<double>();
  }
  return p;
}

template <class T>
void quantize(const Kernels& k, int id, bool backward, const py::array& x, const py::array* dy, py::array& out,
              const Params& pd) {
  T params[fastq::kNumParams];
  for (int i = 0; i < fastq::kNumParams; ++i) params[i] = static_cast<T>(pd[i]);
  const std::size_t cols = last_dim(x);
  const std::size_t rows = cols ? static_cast<std::size_t>(x.size()) / cols : 0;
  const T* xp = static_cast<const T*>(x.data());
  const T* dyp = dy ? static_cast<const T*>(dy->data()) : nullptr;
  T* op = static_cast<T*>(out.mutable_data());
  // Below one task's size no region starts, so there is nothing to poll: skip the scope (a
  // clock read) on the per-call path of small arrays.
  if (rows * cols < (std::size_t(1) << 16)) {
    py::gil_scoped_release nogil;
    fastq::run_pass<T>(*k.table, id, backward, xp, dyp, op, rows, cols, params);
    return;
  }
  run_released([&] { fastq::run_pass<T>(*k.table, id, backward, xp, dyp, op, rows, cols, params); });
}

// One forward or backward pass; x's last axis is the channel axis (MagnitudeAwareSign).
void run(const Kernels& k, int id, bool backward, const py::array& x, const py::array* dy, py::array& out,
         const py::handle& params) {
  check_id(id);
  const Params p = params_by_name(*k.table, id, params);
  const DType dt = float_dtype(x, "x");
  require_contiguous(x, "x");
  require_same(x, dt, out, "out");
  require_writeable(out, "out");
  if (dy) require_same(x, dt, *dy, "dy");
  if (dt == DType::f32)
    quantize<float>(k, id, backward, x, dy, out, p);
  else
    quantize<double>(k, id, backward, x, dy, out, p);
}

// The common case of q(x, out) and q.grad(x, dy, out) in one native call: x (and dy) an
// ndarray (not a subclass) of float32 or float64, C-contiguous and aligned; out None (a new
// array) or a writable, C-contiguous, aligned ndarray of x's dtype and shape that is x (or dy)
// itself or overlaps neither. Anything else returns None and the Python layer takes over
// (conversions, copies, error messages), so this path never raises for bad arguments.
class BoundQuantizer {
 public:
  BoundQuantizer(const Kernels& k, int id, const py::object& p32, const py::object& p64)
      : table_(k.table),
        id_(check_id(id)),
        p32_(params_by_name(*k.table, id, p32)),
        p64_(params_by_name(*k.table, id, p64)) {}

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
    return d->type_num == py::detail::npy_api::NPY_FLOAT_ || d->type_num == py::detail::npy_api::NPY_DOUBLE_
               ? d->type_num
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
      quantize<float>(k, id_, bool(dyh), x, dyp, out, p32_);
    else
      quantize<double>(k, id_, bool(dyh), x, dyp, out, p64_);
    return std::move(out);
  }

  const KernelTable* table_;
  int id_;
  Params p32_, p64_;
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
          [](const Kernels& k, int id, const py::array& x, py::array& out, const py::object& params) {
            run(k, id, false, x, nullptr, out, params);
          },
          py::arg("id"), py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("params") = py::none(),
          "out = forward pass of quantizer `id` (x, out: same float dtype and size, C-contiguous); params: "
          "{name: value} by the names of quantizer_params.")
      .def(
          "backward",
          [](const Kernels& k, int id, const py::array& x, const py::array& dy, py::array& out,
             const py::object& params) { run(k, id, true, x, &dy, out, params); },
          py::arg("id"), py::arg("x").noconvert(), py::arg("dy").noconvert(), py::arg("out").noconvert(),
          py::arg("params") = py::none(), "out = input gradient of quantizer `id` given upstream gradient dy.")
      .def(
          "abs_sum",
          [](const Kernels& k, const py::array& x) {
            const std::size_t n = static_cast<std::size_t>(checked_input(x).size());
            if (float_dtype(x, "x") == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              return run_released([&] { return fastq::abs_sum<float>(*k.table, p, n); });
            }
            const double* p = static_cast<const double*>(x.data());
            return run_released([&] { return fastq::abs_sum<double>(*k.table, p, n); });
          },
          py::arg("x").noconvert(), "Sum of |x| accumulated in float64, in fastq's fixed order.")
      .def(
          "max_abs",
          [](const Kernels& k, const py::array& x) -> double {
            const std::size_t n = static_cast<std::size_t>(checked_input(x).size());
            if (float_dtype(x, "x") == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              return static_cast<double>(run_released([&] { return fastq::max_abs<float>(*k.table, p, n); }));
            }
            const double* p = static_cast<const double*>(x.data());
            return run_released([&] { return fastq::max_abs<double>(*k.table, p, n); });
          },
          py::arg("x").noconvert(), "max |x| (NaN if any element is NaN).")
      .def(
          "channel_abs_mean",
          [](const Kernels& k, const py::array& x, py::array& out) {
            const DType dt = float_dtype(checked_input(x), "x");
            const std::size_t cols = last_dim(x);
            const std::size_t rows = cols ? static_cast<std::size_t>(x.size()) / cols : 0;
            if (float_dtype(out, "out") != dt)
              type_error("out: expected dtype " + dtype_str(x) + ", got " + dtype_str(out));
            require_contiguous(out, "out");
            require_writeable(out, "out");
            if (static_cast<std::size_t>(out.size()) != cols)
              value_error("out: expected " + std::to_string(cols) + " elements (one per channel), got " +
                          std::to_string(out.size()));
            if (dt == DType::f32) {
              const float* p = static_cast<const float*>(x.data());
              float* o = static_cast<float*>(out.mutable_data());
              run_released([&] { fastq::channel_abs_mean<float>(*k.table, p, rows, cols, o); });
            } else {
              const double* p = static_cast<const double*>(x.data());
              double* o = static_cast<double*>(out.mutable_data());
              run_released([&] { fastq::channel_abs_mean<double>(*k.table, p, rows, cols, o); });
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
            const void* xp = x.data();
            void* op = out.mutable_data();
            run_released([&] {
              if (dt == DType::f32)
                fastq::tanh<float>(*k.table, static_cast<const float*>(xp), static_cast<float*>(op), n);
              else
                fastq::tanh<double>(*k.table, static_cast<const double*>(xp), static_cast<double*>(op), n);
            });
          },
          py::arg("x").noconvert(), py::arg("out").noconvert(), "out = fastq's tanh (the one DoReFa uses).");

  py::class_<BoundQuantizer>(m, "BoundQuantizer",
                             "One quantizer's kernel and parameters (float32 and float64 values) on one table: "
                             "the fast path of q(x, out) and q.grad(x, dy, out).")
      .def(py::init<const Kernels&, int, const py::object&, const py::object&>(), py::arg("kernels"), py::arg("id"),
           py::arg("params_f32"), py::arg("params_f64"))
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
  // Takes any Python int, so a huge one is this ValueError rather than a conversion error.
  m.def(
      "set_num_threads",
      [](const py::int_& n) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
        if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
        if (overflow || v < 1 || v > fastq::kMaxThreads)
          value_error("n: expected an integer in 1.." + std::to_string(fastq::kMaxThreads) + ", got " +
                      std::string(py::str(n)));
        fastq::set_num_threads(static_cast<int>(v));
      },
      py::arg("n"));
  m.def("default_num_threads", &fastq::default_num_threads,
        "The CPUs this process may run on (affinity mask, cgroup CPU quota rounded up), at least 1.");
  m.def("started_workers", &fastq::started_workers, "Worker threads started so far (they start on demand).");
  m.attr("max_threads") = fastq::kMaxThreads;
  m.attr("poll_interval_ms") = static_cast<int>(fastq::kPollInterval.count());

  // Self-tests of the parallel-region contract (tests/test_interrupt.py): ntasks tasks of
  // `micros` microseconds of sleep each; task `fail_at` throws `kind` (bad_alloc,
  // runtime_error, length_error); returns how many tasks ran. Under run_released, as kernels.
  m.def(
      "_pool_selftest",
      [](std::size_t ntasks, long micros, long long fail_at, const std::string& kind, bool chunked) {
        if (kind != "bad_alloc" && kind != "runtime_error" && kind != "length_error")
          value_error("kind: expected 'bad_alloc', 'runtime_error' or 'length_error', got '" + kind + "'");
        std::atomic<std::size_t> ran{0};
        auto task = [&](std::size_t i) {
          if (fail_at >= 0 && i == static_cast<std::size_t>(fail_at)) {
            if (kind == "bad_alloc") throw std::bad_alloc();
            if (kind == "length_error") throw std::length_error("selftest");
            throw std::runtime_error("selftest failure in a task");
          }
          std::this_thread::sleep_for(std::chrono::microseconds(micros));
          ran.fetch_add(1);
        };
        run_released([&] {
          if (chunked)
            fastq::chunked_for(ntasks, 1, [&](std::size_t a, std::size_t b) {
              for (std::size_t i = a; i < b; ++i) task(i);
            });
          else
            fastq::parallel_for(ntasks, task);
        });
        return ran.load();
      },
      py::arg("ntasks"), py::arg("micros"), py::arg("fail_at") = -1, py::arg("kind") = "bad_alloc",
      py::arg("chunked") = false);
  // A fallback: an Interrupted that escapes a binding without run_released is KeyboardInterrupt.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastq::Interrupted&) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });

  py::dict ids;
#define FASTQ_ID_ENTRY(Name) ids[#Name] = static_cast<int>(fastq::k##Name);
  FASTQ_QUANTIZERS(FASTQ_ID_ENTRY)
#undef FASTQ_ID_ENTRY
  m.attr("quantizer_ids") = ids;
  m.attr("num_params") = fastq::kNumParams;
  // Each kernel's parameter names, as its csrc/quantizers/<name>.hpp declares them (kParams).
  py::dict param_names;
  const KernelTable& scalar_table = fastq::table_for("scalar");
#define FASTQ_NAME_ENTRY(Name) #Name,
  const char* const kernel_names[] = {FASTQ_QUANTIZERS(FASTQ_NAME_ENTRY)};
#undef FASTQ_NAME_ENTRY
  for (int id = 0; id < fastq::kNumQuantizers; ++id) {
    py::list names;
    const fastq::ParamNames& pn = scalar_table.params[id];
    for (int i = 0; i < fastq::kNumParams && pn.name[i]; ++i) names.append(pn.name[i]);
    param_names[kernel_names[id]] = py::tuple(names);
  }
  m.attr("quantizer_params") = param_names;
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
