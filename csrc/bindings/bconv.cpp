// pybind11 bindings of the binary convolution: `Kernels.conv_plan` builds a ConvPlan (weights in
// the kernels' layout, geometry, output transform), which is called with x. Same rules as
// module.cpp: validate first, take raw pointers, run the kernels with run_released.
#include <pybind11/stl.h>

#include "bindings/binary_args.hpp"
#include "runtime/aligned.hpp"
#include "runtime/bconv_ops.hpp"
#include "runtime/bgemm_ops.hpp"
#include "runtime/bitpack_ops.hpp"
#include "runtime/window_axis.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;

struct ConvPlan {
  const fastq::KernelTable* table;
  fastq::AlignedVector<std::uint64_t> blocked;
  std::vector<std::int32_t> prefix;
  std::size_t o, groups, cg, kh, kw, sh, sw, dh, dw;
  bool same, pad_zero, relu;
  fastq::BinaryOutKind kind;
  std::vector<float> scale, bias;
  std::vector<std::int32_t> lo;
  std::vector<std::uint32_t> span;
};

std::size_t positive(long long v, const char* name) {
  if (v < 1) value_error(std::string(name) + ": expected integers >= 1, got " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

ConvPlan make_conv_plan(const Kernels& kern, const py::array& words, long long cg_in, long long groups_in,
                        std::pair<long long, long long> strides, std::pair<long long, long long> dilation,
                        const std::string& padding, bool pad_zero, const std::string& output, const py::object& scale,
                        const py::object& bias, bool relu) {
  const std::size_t cg = check_k(cg_in);
  if (kind_of(words) != Kind::u64)
    type_error("words: expected a uint64 array of packed words in native byte order, got dtype " + dtype_str(words));
  require_contiguous(words, "words");
  if (words.ndim() != 4 || static_cast<std::size_t>(words.shape(3)) != fastq::packed_words(cg))
    value_error("words: expected shape (O, KH, KW, " + std::to_string(fastq::packed_words(cg)) + ") for " +
                std::to_string(cg) + " channels per group, got " + shape_str(words));
  ConvPlan p{};
  p.table = kern.table;
  p.o = static_cast<std::size_t>(words.shape(0));
  p.kh = static_cast<std::size_t>(words.shape(1));
  p.kw = static_cast<std::size_t>(words.shape(2));
  if (p.kh == 0 || p.kw == 0)
    value_error("words: expected a kernel of at least 1 x 1 taps, got shape " + shape_str(words));
  p.groups = positive(groups_in, "groups");
  if (p.o % p.groups)
    value_error("groups: the " + std::to_string(p.o) + " output channels do not split into " +
                std::to_string(p.groups) + " groups");
  p.cg = cg;
  p.sh = positive(strides.first, "strides");
  p.sw = positive(strides.second, "strides");
  p.dh = positive(dilation.first, "dilation_rate");
  p.dw = positive(dilation.second, "dilation_rate");
  if (padding != "valid" && padding != "same")
    value_error("padding: expected 'valid' or 'same', got '" + padding + "'");
  p.same = padding == "same";
  p.pad_zero = pad_zero;
  p.relu = relu;
  if (p.kh * p.kw * cg > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    value_error("words: kh * kw * channels per group must be < 2**31");
  if (output == "dots") {
    p.kind = fastq::BinaryOutKind::dots;
  } else if (output == "affine" || output == "signs") {
    p.kind = output == "affine" ? fastq::BinaryOutKind::affine : fastq::BinaryOutKind::signs;
    auto vec = [&](const py::object& v, const char* name) {
      if (!py::isinstance<py::array>(v)) type_error(std::string(name) + ": expected a float32 array");
      const auto a = py::reinterpret_borrow<py::array>(v);
      require_f32_vector(a, name, p.o);
      const float* f = static_cast<const float*>(a.data());
      return std::vector<float>(f, f + p.o);
    };
    p.scale = vec(scale, "scale");
    p.bias = vec(bias, "bias");
    if (p.kind == fastq::BinaryOutKind::signs) {
      p.lo.resize(p.o);
      p.span.resize(p.o);
      fastq::binary_thresholds(p.scale.data(), p.bias.data(), relu, p.o, p.kh * p.kw * cg, p.lo.data(), p.span.data());
    }
  } else {
    value_error("output: expected 'dots', 'affine' or 'signs', got '" + output + "'");
  }
  const std::size_t row = p.kh * p.kw * fastq::packed_words(cg);
  p.blocked.resize(fastq::conv_weight_words(p.o, p.groups, row));
  p.prefix.resize((p.kh + 1) * (p.kw + 1) * p.o);
  const auto* w = static_cast<const std::uint64_t*>(words.data());
  run_released(
      [&] { fastq::conv_weights(*p.table, w, p.o, p.groups, p.kh, p.kw, cg, p.blocked.data(), p.prefix.data()); });
  return p;
}

// A call's geometry and output, from x's shape alone (words: x is packed words, else float
// values): every check of a call that does not read x, so that the Python layer can run them
// before it converts (copies) x.
struct ConvCall {
  fastq::ConvShape s;
  fastq::BinaryOut o;
  py::array out;
};

ConvCall prepare(const ConvPlan& p, const std::vector<py::ssize_t>& xshape, bool words, const py::object& out_obj,
                 const py::object& res_obj) {
  const std::size_t c = p.cg * p.groups, cgw = fastq::packed_words(p.cg);
  if (words) {
    if (xshape.size() != 4 || static_cast<std::size_t>(xshape[3]) != fastq::packed_words(c))
      value_error("x: expected packed NHWC words (N, H, W, " + std::to_string(fastq::packed_words(c)) +
                  ") for C = " + std::to_string(c) + " channels, got shape " + shape_str(xshape));
  } else if (xshape.size() != 4 || static_cast<std::size_t>(xshape[3]) != c) {
    value_error("x: expected an NHWC array (N, H, W, " + std::to_string(c) + ") (C = " + std::to_string(p.cg) +
                " channels per group x " + std::to_string(p.groups) + " groups), got shape " + shape_str(xshape));
  }
  ConvCall call{};
  fastq::ConvShape& s = call.s;
  s.n = static_cast<std::size_t>(xshape[0]);
  s.h = static_cast<std::size_t>(xshape[1]);
  s.w = static_cast<std::size_t>(xshape[2]);
  s.groups = p.groups, s.cg = p.cg, s.cgw = cgw;
  s.kh = p.kh, s.kw = p.kw, s.sh = p.sh, s.sw = p.sw;
  // Huge "same" dilations come back smaller, with the same taps read (runtime/window_axis.hpp).
  const fastq::WindowAxis ay = fastq::window_axis(s.h, p.kh, p.sh, p.dh, p.same);
  const fastq::WindowAxis ax = fastq::window_axis(s.w, p.kw, p.sw, p.dw, p.same);
  s.dh = ay.dil, s.dw = ax.dil;
  const std::size_t eh = fastq::window_extent(p.kh, p.dh), ew = fastq::window_extent(p.kw, p.dw);
  if (!p.same && (s.h < eh || s.w < ew))
    value_error("x: the input's H x W = " + std::to_string(s.h) + " x " + std::to_string(s.w) +
                " is smaller than the (dilated) kernel's " + std::to_string(eh) + " x " + std::to_string(ew) +
                " with padding='valid'");
  s.oh = ay.out, s.ow = ax.out, s.pad_top = ay.pad, s.pad_left = ax.pad;
  s.o = p.o;
  s.pad_zero = p.pad_zero;
  s.tap_prefix = p.prefix.data();
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(s.n), static_cast<py::ssize_t>(s.oh),
                                 static_cast<py::ssize_t>(s.ow), static_cast<py::ssize_t>(p.o)};
  fastq::BinaryOut& o = call.o;
  py::array& out = call.out;
  o.kind = p.kind;
  if (p.kind == fastq::BinaryOutKind::dots) {
    if (!res_obj.is_none()) value_error("residual: only for float32 output (output='affine')");
    out = output_array<std::int32_t>(out_obj, shape, "int32");
    o.ld = p.o;
  } else if (p.kind == fastq::BinaryOutKind::affine) {
    o.ld = p.o, o.scale = p.scale.data(), o.bias = p.bias.data(), o.relu = p.relu;
    py::array r;
    if (!res_obj.is_none()) {
      // The residual of a fused Add: float32 of the output's shape, element (p, j) read just
      // before y's element (p, j) is written: it may be x (read only) or out itself, but must not
      // overlap out otherwise. Checked before out is allocated.
      if (!py::isinstance<py::array>(res_obj))
        type_error("residual: expected a float32 NumPy array, got " +
                   py::str(py::type::of(res_obj).attr("__name__")).cast<std::string>());
      r = py::reinterpret_borrow<py::array>(res_obj);
      if (kind_of(r) != Kind::f32) type_error("residual: expected dtype float32, got " + dtype_str(r));
      if (std::vector<py::ssize_t>(r.shape(), r.shape() + r.ndim()) != shape)
        value_error("residual: expected shape " + shape_str(shape) + ", got " + shape_str(r));
      require_contiguous(r, "residual");
    }
    out = output_array<float>(out_obj, shape, "float32");
    if (!res_obj.is_none()) {
      const char* rb = static_cast<const char*>(r.data());
      const char* ob = static_cast<const char*>(out.data());
      if (rb != ob && rb < ob + out.nbytes() && ob < rb + r.nbytes())
        value_error("residual: must be out itself or not overlap it");
      o.residual = static_cast<const float*>(r.data());
    }
  } else {
    if (!res_obj.is_none()) value_error("residual: only for float32 output (output='affine')");
    shape[3] = static_cast<py::ssize_t>(fastq::packed_words(p.o));
    out = output_array<std::uint64_t>(out_obj, shape, "uint64");
    o.ld = fastq::packed_words(p.o), o.lo = p.lo.data(), o.span = p.span.data();
  }
  o.data = out.mutable_data();
  return call;
}

py::array run_conv(const ConvPlan& p, const py::array& x, const py::object& out_obj, const py::object& res_obj) {
  const Kind kd = kind_of(x);
  if (kd == Kind::other)
    type_error("x: expected a float32 or float64 array or uint64 packed words in native byte order, got dtype " +
               dtype_str(x));
  require_contiguous(x, "x");
  const ConvCall call =
      prepare(p, std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()), kd == Kind::u64, out_obj, res_obj);
  const void* xp = x.data();
  const fastq::KernelTable& t = *p.table;
  const fastq::ConvInput in = kd == Kind::f32   ? fastq::ConvInput::f32
                              : kd == Kind::f64 ? fastq::ConvInput::f64
                                                : fastq::ConvInput::words;
  run_released([&] { fastq::binary_conv2d(t, call.s, xp, in, p.blocked.data(), call.o); });
  return call.out;
}
}  // namespace

void bind_bconv(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  // Registered before the methods that return it, so that their signatures name it.
  py::class_<ConvPlan>(m, "ConvPlan", "A binary convolution's fixed operands (see Kernels.conv_plan).")
      .def("__call__", &run_conv, py::arg("x").noconvert(), py::arg("out") = py::none(),
           py::arg("residual") = py::none(),
           "x: float32/float64 NHWC (N, H, W, C) or its packed words (N, H, W, ceil(C / 64)) -> int32 / float32 "
           "(N, OH, OW, O) or packed uint64 (N, OH, OW, ceil(O / 64)); out: an array of exactly that to write into; "
           "residual (float32 output only): float32 (N, OH, OW, O) added after the bias, y = (d * s + b) + r, "
           "each step rounded (may be x or out itself, must not overlap out otherwise).")
      .def(
          "output",
          [](const ConvPlan& p, const std::vector<py::ssize_t>& shape, const py::object& out, const py::object& res) {
            return prepare(p, shape, false, out, res).out;
          },
          py::arg("shape"), py::arg("out") = py::none(), py::arg("residual") = py::none(),
          "Every check of a call on float values of NHWC `shape` that does not read them (geometry, out, residual): "
          "returns out, or a new output array, to pass to the call (the Python layer runs it before converting x).")
      .def_property_readonly("isa", [](const ConvPlan& p) { return std::string(p.table->isa); });
  cls.def("conv_plan", &make_conv_plan, py::arg("words").noconvert(), py::arg("cg"), py::arg("groups"),
          py::arg("strides"), py::arg("dilation"), py::arg("padding"), py::arg("pad_zero"), py::arg("output"),
          py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("relu") = false,
          "A binary 2-D convolution on this ISA (docs/binary.md). words: uint64 (O, KH, KW, ceil(cg / 64)), the "
          "packed kernel[ky, kx, :, o] of each output channel; cg channels per group; strides, dilation: (h, w); "
          "padding 'valid'/'same'; pad_zero: pad_values = 0 (else 1); output 'dots' (int32), 'affine' (float32: "
          "float(float(act(dot)) * scale) + bias) or 'signs' (the packed signs of that float); scale, bias: float32 "
          "(O,); relu: act = max(., 0). Call it with x.");
}
