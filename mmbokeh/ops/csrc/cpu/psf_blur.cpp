// CPU kernels of psf_blur, the Gaussian PSF layer of Gur and Wolf (gather over a window x window neighbourhood).
//
// out(p) = sum_q g(c_q, |p - q|) I(q) / sum_q g(c_q, |p - q|) over neighbours q with c_q > 1, for pixels with
// c_p > 1; a pixel with c_p <= 1 is copied. g(c, rho) = c^-2 exp(-2 rho^2 / c^2). Every pass is a gather, so the
// loops parallelise over pixels without write conflicts.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty_like.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../common/ops.h"
#include "../common/splat_math.h"

namespace mmbokeh {
namespace cpu {
namespace {

template <typename scalar_t>
void forward_impl(const at::Tensor& image, const at::Tensor& sigma, int64_t window, at::Tensor& out,
                  at::Tensor& wsum) {
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t h = window / 2;
  const scalar_t* img = image.data_ptr<scalar_t>();
  const scalar_t* cs = sigma.data_ptr<scalar_t>();
  scalar_t* o = out.data_ptr<scalar_t>();
  scalar_t* ws = wsum.data_ptr<scalar_t>();
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(C);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / H, y = row % H;
      const scalar_t* c_b = cs + b * HW;
      const scalar_t* i_b = img + b * C * HW;
      for (int64_t x = 0; x < W; ++x) {
        const int64_t p = y * W + x;
        if (!(c_b[p] > scalar_t(1))) {
          for (int64_t c = 0; c < C; ++c) o[(b * C + c) * HW + p] = i_b[c * HW + p];
          ws[b * HW + p] = scalar_t(0);
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double wt = 0.0;
        for (int64_t yy = std::max<int64_t>(0, y - h); yy <= std::min<int64_t>(H - 1, y + h); ++yy) {
          for (int64_t xx = std::max<int64_t>(0, x - h); xx <= std::min<int64_t>(W - 1, x + h); ++xx) {
            const int64_t q = yy * W + xx;
            const scalar_t cq = c_b[q];
            if (!(cq > scalar_t(1))) continue;
            const scalar_t rho2 = static_cast<scalar_t>((yy - y) * (yy - y) + (xx - x) * (xx - x));
            const double g = static_cast<double>(psf_weight(cq, rho2));
            wt += g;
            for (int64_t c = 0; c < C; ++c) acc[c] += g * static_cast<double>(i_b[c * HW + q]);
          }
        }
        for (int64_t c = 0; c < C; ++c) o[(b * C + c) * HW + p] = static_cast<scalar_t>(acc[c] / wt);
        ws[b * HW + p] = static_cast<scalar_t>(wt);
      }
    }
  });
}

template <typename scalar_t>
void backward_impl(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& sigma,
                   const at::Tensor& out, const at::Tensor& wsum, int64_t window, at::Tensor& g_img,
                   at::Tensor& g_sig) {
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t h = window / 2;
  const scalar_t* go = grad_out.data_ptr<scalar_t>();
  const scalar_t* img = image.data_ptr<scalar_t>();
  const scalar_t* cs = sigma.data_ptr<scalar_t>();
  const scalar_t* o = out.data_ptr<scalar_t>();
  const scalar_t* ws = wsum.data_ptr<scalar_t>();
  scalar_t* gi = g_img.data_ptr<scalar_t>();
  scalar_t* gs = g_sig.data_ptr<scalar_t>();
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(C);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / H, y = row % H;
      const scalar_t* c_b = cs + b * HW;
      for (int64_t x = 0; x < W; ++x) {
        const int64_t q = y * W + x;  // this pixel as a source
        const scalar_t cq = c_b[q];
        if (!(cq > scalar_t(1))) {  // copied through, and never a neighbour of anyone
          for (int64_t c = 0; c < C; ++c) gi[(b * C + c) * HW + q] = go[(b * C + c) * HW + q];
          gs[b * HW + q] = scalar_t(0);
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double g_c = 0.0;
        for (int64_t yy = std::max<int64_t>(0, y - h); yy <= std::min<int64_t>(H - 1, y + h); ++yy) {
          for (int64_t xx = std::max<int64_t>(0, x - h); xx <= std::min<int64_t>(W - 1, x + h); ++xx) {
            const int64_t p = yy * W + xx;  // a target gathering from q
            if (!(c_b[p] > scalar_t(1))) continue;
            const scalar_t rho2 = static_cast<scalar_t>((yy - y) * (yy - y) + (xx - x) * (xx - x));
            const scalar_t g = psf_weight(cq, rho2);
            const double inv_w = 1.0 / static_cast<double>(ws[b * HW + p]);
            const double dg = static_cast<double>(psf_dweight(cq, rho2, g)) * inv_w;
            for (int64_t c = 0; c < C; ++c) {
              const double gp = static_cast<double>(go[(b * C + c) * HW + p]);
              acc[c] += gp * static_cast<double>(g) * inv_w;
              g_c += gp * dg * static_cast<double>(img[(b * C + c) * HW + q] - o[(b * C + c) * HW + p]);
            }
          }
        }
        for (int64_t c = 0; c < C; ++c) gi[(b * C + c) * HW + q] = static_cast<scalar_t>(acc[c]);
        gs[b * HW + q] = static_cast<scalar_t>(g_c);
      }
    }
  });
}

}  // namespace

std::vector<at::Tensor> psf_blur_forward(const at::Tensor& image, const at::Tensor& sigma, int64_t window) {
  check_psf_inputs(image, sigma, window);
  TORCH_CHECK(image.device().is_cpu(), "psf_blur cpu kernel got a ", image.device(), " tensor");
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(sigma);
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_forward_cpu",
                             [&] { forward_impl<scalar_t>(image, sigma, window, out, wsum); });
  return {out, wsum};
}

std::vector<at::Tensor> psf_blur_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                          const at::Tensor& sigma, const at::Tensor& out, const at::Tensor& wsum,
                                          int64_t window) {
  check_psf_inputs(image, sigma, window);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == sigma.sizes(),
              "psf_blur backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous(),
              "grad_out must be contiguous with the image dtype");
  auto g_img = at::empty_like(image);
  auto g_sig = at::empty_like(sigma);
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_backward_cpu", [&] {
    backward_impl<scalar_t>(grad_out, image, sigma, out, wsum, window, g_img, g_sig);
  });
  return {g_img, g_sig};
}

}  // namespace cpu
}  // namespace mmbokeh
