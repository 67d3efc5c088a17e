// pybind11 bindings of the float (fp32) layer kernels: methods of `_core.Kernels` (every ISA's
// table is reachable through `_core.kernels_for(isa)`) and prepared convolution plans. Same rules
// as module.cpp / binary.cpp: validate dtype, layout, shapes first (TypeError for a wrong dtype,
// ValueError for a wrong shape or parameter, naming the argument), take raw pointers, run the
// kernel with the GIL released, answering Ctrl-C (run_released). Activations are never converted
// here: float32, C-contiguous, aligned.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings/checks.hpp"
#include "bindings/peaks.hpp"
#include "bindings/kernels.hpp"
#include "runtime/aligned.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/float_ops.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;
using Shape = std::vector<py::ssize_t>;

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

bool is_f32(const py::array& a) {
  const py::dtype dt = a.dtype();
  return dt.byteorder() != '>' && dt.kind() == 'f' && dt.itemsize() == 4;
}

// A float32, C-contiguous, aligned array of `ndim` dimensions (0: any).
void require_f32(const py::array& a, const char* name, py::ssize_t ndim) {
  if (!is_f32(a))
    type_error(std::string(name) + ": expected a float32 array in native byte order, got dtype " + dtype_str(a));
  require_contiguous(a, name);
  if (ndim && a.ndim() != ndim)
    value_error(std::string(name) + ": expected a " + std::to_string(ndim) + "-D array, got shape " + shape_str(a));
}

// An optional per-channel float32 vector of n values, copied and zero-padded to `padded` (the
// kernels read whole vectors).
std::vector<float> channel_vector(const py::object& obj, const char* name, std::size_t n, std::size_t padded) {
  if (obj.is_none()) return {};
  if (!py::isinstance<py::array>(obj))
    type_error(std::string(name) + ": expected None or a float32 array, got " +
               py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  const auto a = py::reinterpret_borrow<py::array>(obj);
  require_f32(a, name, 1);
  if (static_cast<std::size_t>(a.shape(0)) != n)
    value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ",), got " + shape_str(a));
  std::vector<float> v(padded, 0.0f);
  std::copy(static_cast<const float*>(a.data()), static_cast<const float*>(a.data()) + n, v.begin());
  return v;
}

std::pair<std::size_t, std::size_t> check_pair(const std::vector<long long>& v, const char* name) {
  if (v.size() != 2 || v[0] < 1 || v[1] < 1)
    value_error(std::string(name) + ": expected two integers >= 1, got " + std::to_string(v.size()) + " values" +
                (v.size() == 2 ? " (" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")" : ""));
  return {static_cast<std::size_t>(v[0]), static_cast<std::size_t>(v[1])};
}

fastq::Padding check_padding(const std::string& p) {
  if (p == "valid") return fastq::Padding::valid;
  if (p == "same") return fastq::Padding::same;
  value_error("padding: expected 'valid' or 'same', got '" + p + "'");
}

fastq::Window make_window(std::size_t kh, std::size_t kw, const std::vector<long long>& strides,
                          const std::vector<long long>& dilation, const std::string& padding) {
  const auto s = check_pair(strides, "strides");
  const auto d = check_pair(dilation, "dilation");
  return fastq::Window{kh, kw, s.first, s.second, d.first, d.second, check_padding(padding)};
}

bool overlaps(const py::array& a, const py::array& b) {
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes() && a.nbytes() && b.nbytes();
}

// The output: a new float32 array of `shape`, or `out` checked against it. Inputs that `out`
// may not share memory with: `inputs`; those it may be exactly (the same buffer, elementwise
// ops): `alias_ok`.
py::array output(const py::object& out_obj, const Shape& shape, std::initializer_list<const py::array*> inputs,
                 std::initializer_list<const py::array*> alias_ok = {}) {
  if (out_obj.is_none()) return py::array_t<float>(shape);
  if (!py::isinstance<py::array>(out_obj))
    type_error("out: expected a NumPy float32 array, got " +
               py::str(py::type::of(out_obj).attr("__name__")).cast<std::string>());
  auto out = py::reinterpret_borrow<py::array>(out_obj);
  if (!is_f32(out)) value_error("out: expected dtype float32, got " + dtype_str(out));
  if (shape_of(out) != shape) value_error("out: expected shape " + shape_str(shape) + ", got " + shape_str(out));
  require_contiguous(out, "out");
  require_writeable(out, "out");
  for (const py::array* in : inputs)
    if (overlaps(out, *in)) value_error("out: must not share memory with the input");
  for (const py::array* in : alias_ok)
    if (overlaps(out, *in) && out.data() != in->data())
      value_error("out: must be the input itself or not share memory with it");
  return out;
}

// ---- Convolution plans ----

// Named apart from bconv.cpp's ConvPlan: libc++ (the wheel's zig clang) compares the type_info of
// internal-linkage types by name, so two anonymous-namespace ConvPlans would collide in pybind11.
struct FloatConvPlan {
  const fastq::KernelTable* table;
  bool depthwise;
  std::size_t kh, kw, c, o, mult;  // o = output channels (depthwise: c * mult)
  fastq::Window win;
  fastq::AlignedVector<float> weights;  // conv: packed; depthwise: kh x kw x (c * mult)
  std::vector<float> scale, bias;
  bool relu;

  fastq::FloatEpilogue epilogue() const {
    return {scale.empty() ? nullptr : scale.data(), bias.empty() ? nullptr : bias.data(), relu};
  }
};

FloatConvPlan make_plan(const Kernels& kern, const py::array& w, bool depthwise, const std::vector<long long>& strides,
                        const std::vector<long long>& dilation, const std::string& padding, const py::object& scale,
                        const py::object& bias, bool relu) {
  require_f32(w, "kernel", 4);
  FloatConvPlan p{};
  p.depthwise = depthwise;
  p.kh = static_cast<std::size_t>(w.shape(0));
  p.kw = static_cast<std::size_t>(w.shape(1));
  p.c = static_cast<std::size_t>(w.shape(2));
  p.mult = depthwise ? static_cast<std::size_t>(w.shape(3)) : 1;
  p.o = depthwise ? p.c * p.mult : static_cast<std::size_t>(w.shape(3));
  if (p.kh == 0 || p.kw == 0 || p.c == 0 || p.o == 0)
    value_error("kernel: expected a non-empty (kh, kw, " + std::string(depthwise ? "channels, multiplier" : "in, out") +
                ") array, got shape " + shape_str(w));
  p.win = make_window(p.kh, p.kw, strides, dilation, padding);
  // The same bits on every table: the one whose vectors fit the channels.
  p.table = depthwise ? &fastq::fit_table(*kern.table, p.o) : &fastq::fit_conv_table(*kern.table, p.o, p.c, p.win);
  p.relu = relu;
  const std::size_t lanes = p.table->fl.lanes, padded = (p.o + lanes - 1) / lanes * lanes;
  p.scale = channel_vector(scale, "scale", p.o, padded);
  p.bias = channel_vector(bias, "bias", p.o, padded);
  const float* wp = static_cast<const float*>(w.data());
  const std::size_t taps = p.kh * p.kw * p.c;
  if (depthwise) {
    p.weights.assign(wp, wp + taps * p.mult);  // (kh, kw, c, mult) = (kh, kw, c * mult)
  } else {
    p.weights.resize(fastq::conv_packed_size(*p.table, taps, p.o));
    fastq::conv_pack(*p.table, wp, taps, p.o, p.weights.data());
  }
  return p;
}

fastq::ConvGeom plan_geom(const FloatConvPlan& p, const py::array& x) {
  require_f32(x, "x", 4);
  if (static_cast<std::size_t>(x.shape(3)) != p.c)
    value_error("x: expected shape (batch, height, width, " + std::to_string(p.c) + ") (NHWC), got " + shape_str(x));
  return fastq::conv_geom(static_cast<std::size_t>(x.shape(1)), static_cast<std::size_t>(x.shape(2)), p.c, p.o, p.win);
}

py::tuple plan_output_shape(const FloatConvPlan& p, const std::vector<long long>& shape) {
  if (shape.size() != 4 || shape[0] < 0 || shape[1] < 0 || shape[2] < 0 || shape[3] != static_cast<long long>(p.c))
    value_error("shape: expected (batch, height, width, " + std::to_string(p.c) + ") (NHWC), got " +
                std::to_string(shape.size()) + " values");
  const fastq::ConvGeom g =
      fastq::conv_geom(static_cast<std::size_t>(shape[1]), static_cast<std::size_t>(shape[2]), p.c, p.o, p.win);
  return py::make_tuple(shape[0], g.oh, g.ow, p.o);
}

py::array run_plan(const FloatConvPlan& p, const py::array& x, const py::object& out_obj) {
  fastq::ConvGeom g = plan_geom(p, x);
  const std::size_t n = static_cast<std::size_t>(x.shape(0));
  py::array out = output(out_obj,
                         {static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(g.oh), static_cast<py::ssize_t>(g.ow),
                          static_cast<py::ssize_t>(p.o)},
                         {&x});
  const auto* xp = static_cast<const float*>(x.data());
  auto* yp = static_cast<float*>(out.mutable_data());
  const fastq::FloatEpilogue e = p.epilogue();
  run_released([&] {
    if (!p.depthwise) {
      fastq::conv2d(*p.table, xp, n, g, p.weights.data(), e, yp);
    } else if (p.mult == 1) {
      fastq::depthwise2d(*p.table, xp, n, g, p.weights.data(), e, yp);
    } else {
      // Multiplier m: output channel c * m + j reads input channel c, so the input is expanded
      // once (each value repeated m times) and run with multiplier 1 over c * m channels.
      const std::size_t pixels = n * g.h * g.w;
      std::vector<float> xe(pixels * p.o);
      for (std::size_t i = 0; i < pixels * p.c; ++i) {
        if (i % (std::size_t(1) << 20) == 0 && fastq::checkpoint()) throw fastq::Interrupted();  // Ctrl-C
        for (std::size_t j = 0; j < p.mult; ++j) xe[i * p.mult + j] = xp[i];
      }
      g.c = p.o;
      fastq::depthwise2d(*p.table, xe.data(), n, g, p.weights.data(), e, yp);
    }
  });
  return out;
}

// ---- Pooling and pointwise ops ----

py::array pool(const Kernels& kern, bool is_max, const py::array& x, const std::vector<long long>& pool_size,
               const std::vector<long long>& strides, const std::string& padding, bool relu,
               const py::object& out_obj) {
  require_f32(x, "x", 4);
  const auto k = check_pair(pool_size, "pool_size");
  const fastq::Window win = make_window(k.first, k.second, strides, {1, 1}, padding);
  const std::size_t n = static_cast<std::size_t>(x.shape(0)), c = static_cast<std::size_t>(x.shape(3));
  const fastq::ConvGeom g =
      fastq::conv_geom(static_cast<std::size_t>(x.shape(1)), static_cast<std::size_t>(x.shape(2)), c, c, win);
  py::array out = output(out_obj,
                         {static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(g.oh), static_cast<py::ssize_t>(g.ow),
                          static_cast<py::ssize_t>(c)},
                         {&x});
  const auto* xp = static_cast<const float*>(x.data());
  auto* yp = static_cast<float*>(out.mutable_data());
  run_released([&] {
    if (is_max)
      fastq::max_pool2d(*kern.table, xp, n, g, relu, yp);
    else
      fastq::avg_pool2d(*kern.table, xp, n, g, yp);
  });
  return out;
}

py::array global_avg_pool(const Kernels& kern, const py::array& x, const py::object& out_obj) {
  require_f32(x, "x", 4);
  const std::size_t n = static_cast<std::size_t>(x.shape(0)), c = static_cast<std::size_t>(x.shape(3));
  const std::size_t pixels = static_cast<std::size_t>(x.shape(1) * x.shape(2));
  if (pixels == 0) value_error("x: expected at least one pixel, got shape " + shape_str(x));
  py::array out = output(out_obj, {static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(c)}, {&x});
  const auto* xp = static_cast<const float*>(x.data());
  auto* yp = static_cast<float*>(out.mutable_data());
  run_released([&] { fastq::global_avg_pool(*kern.table, xp, n, pixels, c, yp); });
  return out;
}

py::array add(const Kernels& kern, const py::array& a, const py::array& b, bool relu, const py::object& out_obj) {
  require_f32(a, "a", 0);
  require_f32(b, "b", 0);
  if (shape_of(a) != shape_of(b))
    value_error("b: expected the shape of a " + shape_str(a) + " (no broadcasting), got " + shape_str(b));
  py::array out = output(out_obj, shape_of(a), {}, {&a, &b});
  const auto* ap = static_cast<const float*>(a.data());
  const auto* bp = static_cast<const float*>(b.data());
  auto* yp = static_cast<float*>(out.mutable_data());
  const std::size_t count = static_cast<std::size_t>(a.size());
  run_released([&] { fastq::add(*kern.table, ap, bp, yp, count, relu); });
  return out;
}

// An optional per-channel float32 vector of n values, read in place (None: null).
const float* channel_ptr(const py::object& obj, const char* name, std::size_t n) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<py::array>(obj))
    type_error(std::string(name) + ": expected None or a float32 array, got " +
               py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  const auto a = py::reinterpret_borrow<py::array>(obj);
  require_f32(a, name, 1);
  if (static_cast<std::size_t>(a.shape(0)) != n)
    value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ",), got " + shape_str(a));
  return static_cast<const float*>(a.data());
}

py::array affine(const Kernels& kern, const py::array& x, const py::object& scale, const py::object& bias, bool relu,
                 const py::object& out_obj, const py::object& res_obj) {
  require_f32(x, "x", 0);
  if (x.ndim() == 0) value_error("x: expected at least 1 dimension (the last is the channel axis), got a 0-d array");
  const std::size_t c = static_cast<std::size_t>(x.shape(x.ndim() - 1));
  const std::size_t rows = c ? static_cast<std::size_t>(x.size()) / c : 0;
  const float* s = channel_ptr(scale, "scale", c);
  const float* b = channel_ptr(bias, "bias", c);
  const bool has_res = !res_obj.is_none();
  py::array res = x;  // replaced below when given (a default-constructed py::array is an empty array, not null)
  if (has_res) {
    if (!py::isinstance<py::array>(res_obj))
      type_error("residual: expected None or a float32 array, got " +
                 py::str(py::type::of(res_obj).attr("__name__")).cast<std::string>());
    res = py::reinterpret_borrow<py::array>(res_obj);
    require_f32(res, "residual", 0);
    if (shape_of(res) != shape_of(x))
      value_error("residual: expected the shape of x " + shape_str(x) + ", got " + shape_str(res));
  }
  py::array out = has_res ? output(out_obj, shape_of(x), {}, {&x, &res}) : output(out_obj, shape_of(x), {}, {&x});
  const auto* xp = static_cast<const float*>(x.data());
  const auto* rp = has_res ? static_cast<const float*>(res.data()) : nullptr;
  auto* yp = static_cast<float*>(out.mutable_data());
  run_released([&] { fastq::affine(*kern.table, xp, s, b, rp, relu, yp, rows, c); });
  return out;
}

py::array softmax(const Kernels& kern, const py::array& x, const py::object& out_obj) {
  require_f32(x, "x", 0);
  if (x.ndim() == 0) value_error("x: expected at least 1 dimension (softmax runs over the last), got a 0-d array");
  const std::size_t n = static_cast<std::size_t>(x.shape(x.ndim() - 1));
  const std::size_t rows = n ? static_cast<std::size_t>(x.size()) / n : 0;
  py::array out = output(out_obj, shape_of(x), {}, {&x});
  const auto* xp = static_cast<const float*>(x.data());
  auto* yp = static_cast<float*>(out.mutable_data());
  run_released([&] { fastq::softmax(*kern.table, xp, yp, rows, n); });
  return out;
}

}  // namespace

void bind_float_ops(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  // Registered before the methods that return it, so that their signatures name it.
  py::class_<FloatConvPlan>(m, "FloatConvPlan",
                            "A float convolution's fixed operands (Kernels.conv2d_plan / depthwise_plan).")
      .def("__call__", &run_plan, py::arg("x").noconvert(), py::arg("out") = py::none(),
           "y = epilogue(conv(x)): x float32 NHWC (C-contiguous), y float32 NHWC; out: None or a float32 array of "
           "y's shape that shares no memory with x.")
      .def("output_shape", &plan_output_shape, py::arg("shape"),
           "The shape __call__(x) returns for an x of this shape.")
      .def_property_readonly("isa", [](const FloatConvPlan& p) { return std::string(p.table->isa); })
      .def_property_readonly("depthwise", [](const FloatConvPlan& p) { return p.depthwise; })
      .def_property_readonly("kernel_size", [](const FloatConvPlan& p) { return py::make_tuple(p.kh, p.kw); })
      .def_property_readonly("in_channels", [](const FloatConvPlan& p) { return p.c; })
      .def_property_readonly("out_channels", [](const FloatConvPlan& p) { return p.o; });
  const char* plan_args =
      "strides, dilation: two integers >= 1; padding: 'valid' or 'same' (TensorFlow's: the smaller half "
      "of the padding at the top / left; padding taps are skipped). scale, bias: None or float32 (channels,), "
      "the epilogue y = relu?((acc * scale) + bias), each operation rounded on its own.";
  cls.def(
      "conv2d_plan",
      [](const Kernels& k, const py::array& w, const std::vector<long long>& s, const std::vector<long long>& d,
         const std::string& pad, const py::object& scale, const py::object& bias,
         bool relu) { return make_plan(k, w, false, s, d, pad, scale, bias, relu); },
      py::arg("kernel").noconvert(), py::arg("strides"), py::arg("dilation"), py::arg("padding"),
      py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("relu") = false,
      (std::string("A float32 NHWC convolution with HWIO kernel (kh, kw, in, out), packed once. ") + plan_args)
          .c_str());
  cls.def(
      "depthwise_plan",
      [](const Kernels& k, const py::array& w, const std::vector<long long>& s, const std::vector<long long>& d,
         const std::string& pad, const py::object& scale, const py::object& bias,
         bool relu) { return make_plan(k, w, true, s, d, pad, scale, bias, relu); },
      py::arg("kernel").noconvert(), py::arg("strides"), py::arg("dilation"), py::arg("padding"),
      py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("relu") = false,
      (std::string("A float32 NHWC depthwise convolution, kernel (kh, kw, channels, multiplier); output channel "
                   "c * multiplier + j. ") +
       plan_args)
          .c_str());
  cls.def(
      "max_pool2d",
      [](const Kernels& k, const py::array& x, const std::vector<long long>& ps, const std::vector<long long>& s,
         const std::string& pad, const py::object& out, bool relu) { return pool(k, true, x, ps, s, pad, relu, out); },
      py::arg("x").noconvert(), py::arg("pool_size"), py::arg("strides"), py::arg("padding"),
      py::arg("out") = py::none(), py::arg("relu") = false,
      "NHWC max pool over the valid taps of each window (m = x where x > m: NaN taps are ignored); relu: "
      "relu(max(x)), the fused relu -> max-pool.");
  cls.def(
      "avg_pool2d",
      [](const Kernels& k, const py::array& x, const std::vector<long long>& ps, const std::vector<long long>& s,
         const std::string& pad, const py::object& out) { return pool(k, false, x, ps, s, pad, false, out); },
      py::arg("x").noconvert(), py::arg("pool_size"), py::arg("strides"), py::arg("padding"),
      py::arg("out") = py::none(),
      "NHWC average pool: the sum of the valid taps in (kh, kw) order from +0, divided by their count.");
  cls.def("global_avg_pool2d", &global_avg_pool, py::arg("x").noconvert(), py::arg("out") = py::none(),
          "(n, h, w, c) -> (n, c): the sum over pixels in row-major order from +0, divided by h * w.");
  cls.def("add", &add, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("relu") = false,
          py::arg("out") = py::none(), "a + b (same shapes), then relu if asked; out may be a or b.");
  cls.def("affine", &affine, py::arg("x").noconvert(), py::arg("scale") = py::none(), py::arg("bias") = py::none(),
          py::arg("relu") = false, py::arg("out") = py::none(), py::arg("residual") = py::none(),
          "((x * scale) + bias) + residual over the last (channel) axis, each step rounded, then relu if asked: "
          "batch norm, optionally fused with the residual add after it. out may be x or residual.");
  cls.def("softmax", &softmax, py::arg("x").noconvert(), py::arg("out") = py::none(),
          "Softmax over the last axis (max subtracted, fastq's exp, float64 sum in a fixed order); out may be x.");
  cls.def(
      "fma_peak",
      [](const Kernels& k, double seconds) {
        check_seconds(seconds);
        return run_released([&] { return fastq::fma_peak(*k.table, seconds); });
      },
      py::arg("seconds") = 0.2,
      "The fp32 FMA peak of one core with this ISA's conv inner step, in FLOP/s (2 per FMA lane): FMAs on "
      "registers only, timed on the calling thread for about `seconds`, best of 3 runs.");
  cls.def(
      "_fma_probe",
      [](const Kernels& k, std::uint64_t iters, std::uint64_t seed) {
        const auto probe = k.table->fl.fma_probe;
        py::gil_scoped_release nogil;
        return probe(iters, seed);
      },
      py::arg("iters"), py::arg("seed"), "The untimed probe behind fma_peak; returns a checksum.");
  cls.def_property_readonly(
      "_fma_probe_flops", [](const Kernels& k) { return k.table->fl.probe_flops_per_iter; },
      "FLOPs per iteration of _fma_probe.");
  cls.def_property_readonly(
      "float_lanes", [](const Kernels& k) { return k.table->fl.lanes; }, "float32 lanes of this ISA's vectors.");
  m.def(
      "fma_peak", [](double seconds) { return peaks_by_isa(&fastq::fma_peak, seconds); }, py::arg("seconds") = 0.2,
      "{isa: the one-core fp32 FMA peak in FLOP/s} for every ISA this CPU runs (see Kernels.fma_peak).");
}
