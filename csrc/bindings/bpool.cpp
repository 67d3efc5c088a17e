// pybind11 bindings of binary max pooling: `Kernels.max_pool2d`. Same rules as module.cpp.
#include "bindings/binary_args.hpp"
#include "runtime/bpool_ops.hpp"

namespace py = pybind11;
using fastq::Kernels;

namespace {
using namespace fastq::bindings;

std::size_t positive(long long v, const char* name) {
  if (v < 1) value_error(std::string(name) + ": expected integers >= 1, got " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

py::array max_pool2d(const Kernels& kern, const py::array& x, std::pair<long long, long long> pool,
                     std::pair<long long, long long> strides, const std::string& padding, const py::object& out_obj) {
  if (kind_of(x) != Kind::u64)
    type_error("x: expected a uint64 array of packed words in native byte order, got dtype " + dtype_str(x));
  require_contiguous(x, "x");
  if (x.ndim() != 4) value_error("x: expected packed NHWC words (N, H, W, words), got shape " + shape_str(x));
  fastq::PoolShape s{};
  s.n = static_cast<std::size_t>(x.shape(0));
  s.h = static_cast<std::size_t>(x.shape(1));
  s.w = static_cast<std::size_t>(x.shape(2));
  s.cw = static_cast<std::size_t>(x.shape(3));
  s.ph = positive(pool.first, "pool_size");
  s.pw = positive(pool.second, "pool_size");
  s.sh = positive(strides.first, "strides");
  s.sw = positive(strides.second, "strides");
  if (padding == "valid") {
    if (s.ph > s.h || s.pw > s.w)
      value_error("pool_size: (" + std::to_string(s.ph) + ", " + std::to_string(s.pw) +
                  ") is larger than the input's " + std::to_string(s.h) + " x " + std::to_string(s.w) +
                  " with padding='valid'");
    s.oh = (s.h - s.ph) / s.sh + 1;
    s.ow = (s.w - s.pw) / s.sw + 1;
  } else if (padding == "same") {
    s.oh = (s.h + s.sh - 1) / s.sh;
    s.ow = (s.w + s.sw - 1) / s.sw;
    // TensorFlow's split; every window keeps at least one input pixel (pad_top < ph).
    // total = (out - 1) * stride + pool - in, where (out - 1) * stride < in: no wrap-around.
    auto pad = [](std::size_t in, std::size_t out, std::size_t stride, std::size_t pool) -> std::size_t {
      const std::size_t left = out ? in - (out - 1) * stride : 0;
      return out && pool > left ? (pool - left) / 2 : 0;
    };
    s.pad_top = pad(s.h, s.oh, s.sh, s.ph);
    s.pad_left = pad(s.w, s.ow, s.sw, s.pw);
  } else {
    value_error("padding: expected 'valid' or 'same', got '" + padding + "'");
  }
  // out=: the models executor writes every activation into a reused buffer.
  py::array out = output_array<std::uint64_t>(out_obj,
                                              {static_cast<py::ssize_t>(s.n), static_cast<py::ssize_t>(s.oh),
                                               static_cast<py::ssize_t>(s.ow), static_cast<py::ssize_t>(s.cw)},
                                              "uint64");
  auto* o = static_cast<std::uint64_t*>(out.mutable_data());
  const auto* xp = static_cast<const std::uint64_t*>(x.data());
  const fastq::KernelTable& t = *kern.table;
  run_released([&] { fastq::binary_max_pool2d(t, s, xp, o); });
  return out;
}
}  // namespace

void bind_bpool(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<Kernels>>(m.attr("Kernels"));
  cls.def("max_pool2d", &max_pool2d, py::arg("x").noconvert(), py::arg("pool_size"), py::arg("strides"),
          py::arg("padding"), py::arg("out") = py::none(),
          "Max pooling of packed NHWC words x (N, H, W, words) -> (N, OH, OW, words): the AND of each window's words "
          "(docs/binary.md); pool_size, strides: (h, w); padding 'valid' or 'same' (windows clipped at the border); "
          "out: an optional C-contiguous uint64 array of the result's shape to write into.");
}
