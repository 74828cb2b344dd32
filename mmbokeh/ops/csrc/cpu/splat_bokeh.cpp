// CPU entry points of splat_bokeh: scatter each source pixel over a disc (or gaussian) of radius |defocus|.
//
// Two paths, both matching the reference (mmbokeh/ops/reference/splat_bokeh.py) to ~1e-7 relative:
// * soft disc without occlusion: cost linear in the radius (splat_disc_fast.h);
// * gaussian kernel or occlusion: every pixel of the window (splat_general.h).
// Accumulators: float64 for the row difference buffer and the general path, the input precision for the band.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>

#include <vector>

#include "../common/ops.h"
#include "splat_disc_fast.h"
#include "splat_general.h"

namespace mmbokeh {
namespace cpu {
namespace {

template <typename scalar_t, int NCT>
std::vector<at::Tensor> forward_impl(const at::Tensor& image, const at::Tensor& defocus, int kernel, bool occlusion,
                                     double margin, double sharpness) {
  using acc_t = scalar_t;
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), nc = C + 1;
  const int max_r = checked_max_radius<scalar_t>(defocus);
  const bool fast = kernel == kSoftDisc && !occlusion;
  const int64_t reach = splat_half_window(static_cast<scalar_t>(max_r) + scalar_t(0.999), kernel);
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(defocus);
  scalar_t* o = out.data_ptr<scalar_t>();
  scalar_t* ws = wsum.data_ptr<scalar_t>();
  if (fast) {
    const auto stencils = make_stencils<scalar_t, acc_t>(defocus.data_ptr<scalar_t>(), defocus.numel(), max_r, W);
    const bool spans = max_r >= 2;  // no disc has a core below R = 2: skip the difference buffer
    auto diff = at::zeros({spans ? B : 0, H, W + 1, nc}, image.options().dtype(at::kDouble));
    auto direct = at::zeros({B, H, W, nc}, image.options());
    double* dif = diff.data_ptr<double>();
    acc_t* dir = direct.data_ptr<acc_t>();
    for_each_stripe(B, H, reach, [&](int64_t b, int64_t y0, int64_t y1) {
      disc_forward_rows<scalar_t, acc_t, NCT>(image_of<scalar_t>(image, defocus, b), stencils,
                                              spans ? dif + b * H * (W + 1) * nc : nullptr, dir + b * H * W * nc, y0,
                                              y1, column_block(max_r, W));
    });
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> run(nc);
      for (int64_t row = begin; row < end; ++row) {
        const int64_t b = row / H, y = row % H;
        const double* fr = spans ? dif + row * (W + 1) * nc : nullptr;
        const acc_t* dr = dir + row * W * nc;
        std::fill(run.begin(), run.end(), 0.0);
        for (int64_t x = 0; x < W; ++x) {
          if (spans)
            for (int64_t c = 0; c < nc; ++c) run[c] += fr[x * nc + c];
          const double wt = run[C] + static_cast<double>(dr[x * nc + C]), inv = 1.0 / wt;
          for (int64_t c = 0; c < C; ++c)
            o[((b * C + c) * H + y) * W + x] = static_cast<scalar_t>((run[c] + static_cast<double>(dr[x * nc + c])) * inv);
          ws[(b * H + y) * W + x] = static_cast<scalar_t>(wt);
        }
      }
    });
    return {out, wsum};
  }
  const auto tab = disc_tables(max_r);
  auto direct = at::zeros({B, H, W, nc}, image.options().dtype(at::kDouble));
  double* dir = direct.data_ptr<double>();
  for_each_stripe(B, H, reach, [&](int64_t b, int64_t y0, int64_t y1) {
    general_forward_rows<scalar_t>(image_of<scalar_t>(image, defocus, b), tab.get(), kernel, occlusion,
                                   static_cast<scalar_t>(margin), static_cast<scalar_t>(sharpness),
                                   dir + b * H * W * nc, y0, y1);
  });
  at::parallel_for(0, B * H * W, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / (H * W), px = i % (H * W);
      const double wt = dir[i * nc + C];
      for (int64_t c = 0; c < C; ++c) o[(b * C + c) * H * W + px] = static_cast<scalar_t>(dir[i * nc + c] / wt);
      ws[i] = static_cast<scalar_t>(wt);
    }
  });
  return {out, wsum};
}

template <typename scalar_t, int NCT>
std::vector<at::Tensor> backward_impl(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus,
                                      const at::Tensor& out, const at::Tensor& wsum, int kernel, bool occlusion,
                                      double margin, double sharpness) {
  using acc_t = scalar_t;
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), nc = C + 1;
  const int max_r = checked_max_radius<scalar_t>(defocus);
  auto g_img = at::empty_like(image);
  auto g_def = at::empty_like(defocus);
  if (kernel == kSoftDisc && !occlusion) {
    const auto stencils = make_stencils<scalar_t, acc_t>(defocus.data_ptr<scalar_t>(), defocus.numel(), max_r, W);
    const at::Tensor pq = make_pq<scalar_t, acc_t>(grad_out, out, wsum);
    const acc_t* p = pq.data_ptr<acc_t>();
    auto prefix = at::zeros({B, H, W + 1, nc}, image.options().dtype(at::kDouble));
    double* pre = prefix.data_ptr<double>();
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const acc_t* src = p + row * W * nc;
        double* dst = pre + row * (W + 1) * nc;
        for (int64_t x = 0; x < W; ++x)
          for (int64_t c = 0; c < nc; ++c) dst[(x + 1) * nc + c] = dst[x * nc + c] + static_cast<double>(src[x * nc + c]);
      }
    });
    const int64_t chunk = 16, chunks = (H + chunk - 1) / chunk;  // gathers only: any split of the rows works
    at::parallel_for(0, B * chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / chunks, y = (task % chunks) * chunk;
        disc_backward_rows<scalar_t, acc_t, NCT>(image_of<scalar_t>(image, defocus, b), stencils, p + b * H * W * nc,
                                                 pre + b * H * (W + 1) * nc,
                                                 g_img.data_ptr<scalar_t>() + b * C * H * W,
                                                 g_def.data_ptr<scalar_t>() + b * H * W, y, std::min(H, y + chunk),
                                                 column_block(max_r, W));
      }
    });
    return {g_img, g_def};
  }
  const auto tab = disc_tables(max_r);
  const at::Tensor pq = make_pq<scalar_t, double>(grad_out, out, wsum);
  const double* p = pq.data_ptr<double>();
  auto g_acc = at::zeros({B, H, W}, pq.options());
  double* ga = g_acc.data_ptr<double>();
  const int64_t reach = splat_half_window(static_cast<scalar_t>(max_r) + scalar_t(0.999), kernel);
  for_each_stripe(B, H, reach, [&](int64_t b, int64_t y0, int64_t y1) {
    general_backward_rows<scalar_t>(image_of<scalar_t>(image, defocus, b), tab.get(), kernel, occlusion,
                                    static_cast<scalar_t>(margin), static_cast<scalar_t>(sharpness),
                                    p + b * H * W * nc, g_img.data_ptr<scalar_t>() + b * C * H * W, ga + b * H * W,
                                    y0, y1);
  });
  g_def.copy_(g_acc.view_as(g_def));
  return {g_img, g_def};
}

}  // namespace

std::vector<at::Tensor> splat_bokeh_forward(const at::Tensor& image, const at::Tensor& defocus, int64_t kernel,
                                            bool occlusion, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  TORCH_CHECK(image.device().is_cpu(), "splat_bokeh cpu kernel got a ", image.device(), " tensor");
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_forward_cpu", [&] {
    const int k = static_cast<int>(kernel);
    if (image.size(1) == 3) return forward_impl<scalar_t, 4>(image, defocus, k, occlusion, margin, sharpness);
    if (image.size(1) == 1) return forward_impl<scalar_t, 2>(image, defocus, k, occlusion, margin, sharpness);
    return forward_impl<scalar_t, 0>(image, defocus, k, occlusion, margin, sharpness);
  });
}

std::vector<at::Tensor> splat_bokeh_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                             const at::Tensor& defocus, const at::Tensor& out, const at::Tensor& wsum,
                                             int64_t kernel, bool occlusion, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == defocus.sizes(),
              "splat_bokeh backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous(),
              "grad_out must be contiguous with the image dtype");
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_backward_cpu", [&] {
    const int k = static_cast<int>(kernel);
    if (image.size(1) == 3)
      return backward_impl<scalar_t, 4>(grad_out, image, defocus, out, wsum, k, occlusion, margin, sharpness);
    if (image.size(1) == 1)
      return backward_impl<scalar_t, 2>(grad_out, image, defocus, out, wsum, k, occlusion, margin, sharpness);
    return backward_impl<scalar_t, 0>(grad_out, image, defocus, out, wsum, k, occlusion, margin, sharpness);
  });
}

}  // namespace cpu
}  // namespace mmbokeh
