// Serial host emulation of the linear-time CUDA splat_bokeh (mmbokeh/ops/csrc/cuda/splat_linear.cu): the same
// per-source and per-row bodies (mmbokeh/ops/csrc/common/splat_linear.h) run in loops instead of CUDA threads, with
// the same orchestration (sources grouped by layer, one scatter / composite / gather pass per layer), so the CUDA
// logic is tested against the reference on machines without a GPU. Built by tests/ops/test_cuda_emulated.py.
#include <torch/extension.h>

#include <vector>

#include "../../../mmbokeh/ops/csrc/common/splat_linear.h"

namespace {

using mmbokeh::linear::Dims;

struct Groups {
  at::Tensor order;
  std::vector<int64_t> start, id;
};

Groups group_layers(const at::Tensor& layer) {
  const auto sorted = at::sort(layer.reshape({-1}), /*stable=*/true, /*dim=*/0, /*descending=*/false);
  const auto unique = at::unique_consecutive(std::get<0>(sorted), false, true);
  const at::Tensor ids = std::get<0>(unique).to(at::kLong), counts = std::get<2>(unique).to(at::kLong);
  Groups g;
  g.order = std::get<1>(sorted).contiguous();
  g.start.push_back(0);
  for (int64_t j = 0; j < ids.numel(); ++j) {
    g.id.push_back(ids.data_ptr<int64_t>()[j]);
    g.start.push_back(g.start.back() + counts.data_ptr<int64_t>()[j]);
  }
  return g;
}

Dims dims_of(const at::Tensor& image) { return {image.size(0), image.size(1), image.size(2), image.size(3)}; }

template <typename scalar_t>
std::vector<at::Tensor> forward_t(const at::Tensor& image, const at::Tensor& defocus, const at::Tensor& layer,
                                  int kernel, double h, double margin, double sharp) {
  const Dims s = dims_of(image);
  const int64_t nc = s.C + 1, n = s.B * s.H * s.W, HW = s.H * s.W;
  const bool spans = kernel == mmbokeh::kSoftDisc;
  auto diff = at::zeros({spans ? s.B : 0, s.H, s.W + 1, nc}, image.options());
  auto direct = at::zeros({s.B, s.H, s.W, nc}, image.options());
  auto num = at::zeros({s.B, s.H, s.W, nc}, image.options().dtype(at::kDouble));
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(defocus);
  const scalar_t* img = image.data_ptr<scalar_t>();
  const scalar_t* def = defocus.data_ptr<scalar_t>();
  scalar_t* dif = spans ? diff.data_ptr<scalar_t>() : nullptr;
  scalar_t* dir = direct.data_ptr<scalar_t>();
  double* acc = num.data_ptr<double>();
  auto pass = [&](const int64_t* idx, int64_t count, bool gated, double centre) {
    for (int64_t i = 0; i < count; ++i) {  // scatter_kernel
      const int64_t g = idx ? idx[i] : i, b = g / HW, p = g % HW;
      if (spans)
        mmbokeh::linear::disc_scatter<scalar_t, scalar_t, mmbokeh::linear::DeviceAdd>(img, def, s, b, p / s.W,
                                                                                     p % s.W, dif, dir);
      else
        mmbokeh::linear::gauss_scatter<scalar_t, scalar_t, mmbokeh::linear::DeviceAdd>(img, def, s, b, p / s.W,
                                                                                      p % s.W, dir);
    }
    for (int64_t row = 0; row < s.B * s.H; ++row)  // composite_kernel
      mmbokeh::linear::composite_row(def, s, row / s.H, row % s.H, gated, centre, margin, sharp, dif, dir, acc);
  };
  if (!layer.defined()) {
    pass(nullptr, n, false, 0.0);
  } else {
    const Groups groups = group_layers(layer);
    for (size_t j = 0; j < groups.id.size(); ++j)
      pass(groups.order.data_ptr<int64_t>() + groups.start[j], groups.start[j + 1] - groups.start[j], true,
           (static_cast<double>(groups.id[j]) + 0.5) * h);
  }
  scalar_t* o = out.data_ptr<scalar_t>();
  scalar_t* ws = wsum.data_ptr<scalar_t>();
  for (int64_t i = 0; i < n; ++i) {  // finalize_kernel
    const int64_t b = i / HW, px = i % HW;
    const double wt = acc[i * nc + s.C];
    for (int64_t c = 0; c < s.C; ++c) o[(b * s.C + c) * HW + px] = static_cast<scalar_t>(acc[i * nc + c] / wt);
    ws[i] = static_cast<scalar_t>(wt);
  }
  return {out, wsum};
}

template <typename scalar_t>
std::vector<at::Tensor> backward_t(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus,
                                   const at::Tensor& layer, const at::Tensor& out, const at::Tensor& wsum, int kernel,
                                   double h, double margin, double sharp) {
  const Dims s = dims_of(image);
  const int64_t nc = s.C + 1, n = s.B * s.H * s.W, HW = s.H * s.W;
  const bool disc = kernel == mmbokeh::kSoftDisc, spans = disc && layer.defined();
  auto pq = at::empty({s.B, s.H, s.W, nc}, image.options().dtype(at::kDouble));
  auto diff = at::zeros({spans ? s.B : 0, s.H, s.W + 1, nc}, image.options());
  auto direct = at::zeros({s.B, s.H, s.W, nc}, image.options());
  auto gq = at::empty({s.B, s.H, s.W, nc}, image.options());
  auto pre = at::empty({disc ? s.B : 0, s.H, s.W + 1, nc}, pq.options());
  auto gdt = at::zeros({s.B, s.H, s.W}, pq.options());
  auto g_img = at::empty_like(image);
  auto g_def = at::empty_like(defocus);
  const scalar_t* img = image.data_ptr<scalar_t>();
  const scalar_t* def = defocus.data_ptr<scalar_t>();
  scalar_t* dif = spans ? diff.data_ptr<scalar_t>() : nullptr;
  scalar_t* dir = direct.data_ptr<scalar_t>();
  scalar_t* gqp = gq.data_ptr<scalar_t>();
  double* prep = disc ? pre.data_ptr<double>() : nullptr;
  double* pqp = pq.data_ptr<double>();
  const scalar_t* go = grad_out.data_ptr<scalar_t>();
  const scalar_t* o = out.data_ptr<scalar_t>();
  const scalar_t* ws = wsum.data_ptr<scalar_t>();
  for (int64_t i = 0; i < n; ++i) {  // pq_kernel
    const int64_t b = i / HW, px = i % HW;
    const double inv_w = 1.0 / static_cast<double>(ws[i]);
    double q = 0.0;
    for (int64_t c = 0; c < s.C; ++c) {
      const double g = static_cast<double>(go[(b * s.C + c) * HW + px]) * inv_w;
      pqp[i * nc + c] = g;
      q += g * static_cast<double>(o[(b * s.C + c) * HW + px]);
    }
    pqp[i * nc + s.C] = q;
  }
  auto pass = [&](const int64_t* idx, int64_t count, bool gated, double centre) {
    if (gated)
      for (int64_t i = 0; i < count; ++i) {  // scatter_kernel
        const int64_t g = idx ? idx[i] : i, b = g / HW, p = g % HW;
        if (disc)
          mmbokeh::linear::disc_scatter<scalar_t, scalar_t, mmbokeh::linear::DeviceAdd>(img, def, s, b, p / s.W,
                                                                                       p % s.W, dif, dir);
        else
          mmbokeh::linear::gauss_scatter<scalar_t, scalar_t, mmbokeh::linear::DeviceAdd>(img, def, s, b, p / s.W,
                                                                                        p % s.W, dir);
      }
    for (int64_t row = 0; row < s.B * s.H; ++row)  // composite_backward_kernel
      mmbokeh::linear::composite_row_backward(def, s, row / s.H, row % s.H, gated, centre, margin, sharp, dif, dir,
                                              pqp, gqp, prep, gdt.data_ptr<double>());
    for (int64_t i = 0; i < count; ++i) {  // gather_kernel
      const int64_t g = idx ? idx[i] : i, b = g / HW, p = g % HW;
      if (disc)
        mmbokeh::linear::disc_gather(img, def, s, b, p / s.W, p % s.W, gqp, prep, g_img.data_ptr<scalar_t>(),
                                     g_def.data_ptr<scalar_t>());
      else
        mmbokeh::linear::gauss_gather(img, def, s, b, p / s.W, p % s.W, gqp, g_img.data_ptr<scalar_t>(),
                                      g_def.data_ptr<scalar_t>());
    }
  };
  if (!layer.defined()) {
    pass(nullptr, n, false, 0.0);
  } else {
    const Groups groups = group_layers(layer);
    for (size_t j = 0; j < groups.id.size(); ++j)
      pass(groups.order.data_ptr<int64_t>() + groups.start[j], groups.start[j + 1] - groups.start[j], true,
           (static_cast<double>(groups.id[j]) + 0.5) * h);
    g_def.add_(gdt.view_as(g_def).to(g_def.scalar_type()));  // add_kernel
  }
  return {g_img, g_def};
}

std::vector<at::Tensor> forward(const at::Tensor& image, const at::Tensor& defocus, const c10::optional<at::Tensor>& layer,
                                int64_t kernel, double h, double margin, double sharp) {
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "emulated_forward", [&] {
    return forward_t<scalar_t>(image, defocus, layer.value_or(at::Tensor()), static_cast<int>(kernel), h, margin,
                               sharp);
  });
}

std::vector<at::Tensor> backward(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus,
                                 const c10::optional<at::Tensor>& layer, const at::Tensor& out,
                                 const at::Tensor& wsum, int64_t kernel, double h, double margin, double sharp) {
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "emulated_backward", [&] {
    return backward_t<scalar_t>(grad_out, image, defocus, layer.value_or(at::Tensor()), out, wsum,
                                static_cast<int>(kernel), h, margin, sharp);
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward);
  m.def("backward", &backward);
}
