// CPU kernels of psf_blur, the Gaussian PSF layer of Gur and Wolf (gather over a window x window neighbourhood).
//
// out(p) = sum_q g(c_q, |p - q|) I(q) / sum_q g(c_q, |p - q|) over neighbours q with c_q > 1, for pixels with
// c_p > 1; a pixel with c_p <= 1 is copied. g(c, rho) = c^-2 exp(-2 rho^2 / c^2). Every pass is a gather, so the
// loops parallelise over pixels without write conflicts. The weights are separable per source pixel and tabulated.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty_like.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/ops.h"
#include "../common/splat_math.h"

namespace mmbokeh {
namespace cpu {
namespace {

// Above kMaxTable entries (huge windows on huge images) the weights are computed directly instead.
constexpr int64_t kMaxTable = int64_t(1) << 25;

// g(c_q, rho) = c_q^-2 exp(-2 dx^2 / c_q^2) exp(-2 dy^2 / c_q^2) for every source pixel q of one image, with the
// factors exp(-2 d^2 / c_q^2), d = 0..half, tabulated once per pixel; g = 0 for pixels with c <= 1 (skipped).
template <typename scalar_t>
struct PsfTable {
  const scalar_t* cs;
  bool direct;
  int64_t stride;
  std::vector<scalar_t> t, ic2;
  PsfTable(const scalar_t* cs_, int64_t n, int64_t half)
      : cs(cs_), direct(n * (half + 1) > kMaxTable), stride(half + 1) {
    if (direct) return;
    t.assign(n * stride, scalar_t(0));
    ic2.assign(n, scalar_t(0));
    at::parallel_for(0, n, 2048, [&](int64_t b, int64_t e) {
      for (int64_t q = b; q < e; ++q) {
        const scalar_t c = cs[q];
        if (!(c > scalar_t(1))) continue;
        ic2[q] = scalar_t(1) / (c * c);
        for (int64_t d = 0; d <= half; ++d)
          t[q * stride + d] = std::exp(scalar_t(-2) * static_cast<scalar_t>(d * d) / (c * c));
      }
    });
  }
  scalar_t operator()(int64_t q, int64_t adx, int64_t ady) const {
    if (direct) return cs[q] > scalar_t(1) ? psf_weight(cs[q], static_cast<scalar_t>(adx * adx + ady * ady)) : 0;
    return ic2[q] * t[q * stride + adx] * t[q * stride + ady];
  }
};

// Forward for the pixels of rows [y0, y1) of one image; CT > 0 fixes the channel count at compile time.
template <typename scalar_t, int CT>
void forward_rows(const scalar_t* img, const scalar_t* cs, const PsfTable<scalar_t>& tab, scalar_t* out,
                  scalar_t* wsum, int64_t C_rt, int64_t H, int64_t W, int64_t h, int64_t y0, int64_t y1) {
  const int64_t C = CT > 0 ? CT : C_rt, HW = H * W;
  std::vector<double> acc(C);
  for (int64_t y = y0; y < y1; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int64_t p = y * W + x;
      if (!(cs[p] > scalar_t(1))) {
        for (int64_t c = 0; c < C; ++c) out[c * HW + p] = img[c * HW + p];
        wsum[p] = scalar_t(0);
        continue;
      }
      double a[CT > 0 ? CT : 1] = {};
      std::fill(acc.begin(), acc.end(), 0.0);
      double wt = 0.0;
      for (int64_t yy = std::max<int64_t>(0, y - h); yy <= std::min<int64_t>(H - 1, y + h); ++yy) {
        const int64_t ady = yy > y ? yy - y : y - yy;
        for (int64_t xx = std::max<int64_t>(0, x - h); xx <= std::min<int64_t>(W - 1, x + h); ++xx) {
          const int64_t q = yy * W + xx;
          const double g = static_cast<double>(tab(q, xx > x ? xx - x : x - xx, ady));
          wt += g;
          if (CT > 0) {
            for (int c = 0; c < CT; ++c) a[c] += g * static_cast<double>(img[c * HW + q]);
          } else {
            for (int64_t c = 0; c < C; ++c) acc[c] += g * static_cast<double>(img[c * HW + q]);
          }
        }
      }
      for (int64_t c = 0; c < C; ++c) out[c * HW + p] = static_cast<scalar_t>((CT > 0 ? a[c] : acc[c]) / wt);
      wsum[p] = static_cast<scalar_t>(wt);
    }
  }
}

// Backward for the source pixels q of rows [y0, y1): grad_I(q) = sum_p G(p) g(c_q, p-q) / W(p) and
// grad_c(q) = sum_p sum_ch G(p) dg/dc (I(q) - out(p)) / W(p) over targets p with c_p > 1.
template <typename scalar_t, int CT>
void backward_rows(const scalar_t* go, const scalar_t* img, const scalar_t* cs, const scalar_t* out,
                   const scalar_t* ws, const PsfTable<scalar_t>& tab, scalar_t* gi, scalar_t* gs, int64_t C_rt,
                   int64_t H, int64_t W, int64_t h, int64_t y0, int64_t y1) {
  const int64_t C = CT > 0 ? CT : C_rt, HW = H * W;
  std::vector<double> acc(C), iq(C);
  for (int64_t y = y0; y < y1; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int64_t q = y * W + x;
      const scalar_t cq = cs[q];
      if (!(cq > scalar_t(1))) {  // copied through, and never a neighbour of anyone
        for (int64_t c = 0; c < C; ++c) gi[c * HW + q] = go[c * HW + q];
        gs[q] = scalar_t(0);
        continue;
      }
      const double inv_c = 1.0 / static_cast<double>(cq), inv_c3 = inv_c * inv_c * inv_c;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t c = 0; c < C; ++c) iq[c] = static_cast<double>(img[c * HW + q]);
      double g_c = 0.0;
      for (int64_t yy = std::max<int64_t>(0, y - h); yy <= std::min<int64_t>(H - 1, y + h); ++yy) {
        const int64_t ady = yy > y ? yy - y : y - yy;
        for (int64_t xx = std::max<int64_t>(0, x - h); xx <= std::min<int64_t>(W - 1, x + h); ++xx) {
          const int64_t p = yy * W + xx;  // a target gathering from q
          if (!(cs[p] > scalar_t(1))) continue;
          const int64_t adx = xx > x ? xx - x : x - xx;
          const double g = static_cast<double>(tab(q, adx, ady)) / static_cast<double>(ws[p]);
          const double dg = g * (4.0 * static_cast<double>(adx * adx + ady * ady) * inv_c3 - 2.0 * inv_c);
          double m = 0.0;
          for (int64_t c = 0; c < C; ++c) {
            const double gp = static_cast<double>(go[c * HW + p]);
            acc[c] += gp * g;
            m += gp * (iq[c] - static_cast<double>(out[c * HW + p]));
          }
          g_c += dg * m;
        }
      }
      for (int64_t c = 0; c < C; ++c) gi[c * HW + q] = static_cast<scalar_t>(acc[c]);
      gs[q] = static_cast<scalar_t>(g_c);
    }
  }
}

// Run fn(y0, y1) in parallel over chunks of rows.
template <typename F>
void for_row_chunks(int64_t H, const F& fn) {
  const int64_t chunk = 8, chunks = (H + chunk - 1) / chunk;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) fn(task * chunk, std::min(H, (task + 1) * chunk));
  });
}

}  // namespace

std::vector<at::Tensor> psf_blur_forward(const at::Tensor& image, const at::Tensor& sigma, int64_t window) {
  check_psf_inputs(image, sigma, window);
  TORCH_CHECK(image.device().is_cpu(), "psf_blur cpu kernel got a ", image.device(), " tensor");
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(sigma);
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t h = window / 2;
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_forward_cpu", [&] {
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* img = image.data_ptr<scalar_t>() + b * C * HW;
      const scalar_t* cs = sigma.data_ptr<scalar_t>() + b * HW;
      scalar_t* o = out.data_ptr<scalar_t>() + b * C * HW;
      scalar_t* ws = wsum.data_ptr<scalar_t>() + b * HW;
      const PsfTable<scalar_t> tab(cs, HW, h);
      for_row_chunks(H, [&](int64_t y0, int64_t y1) {
        if (C == 3) forward_rows<scalar_t, 3>(img, cs, tab, o, ws, C, H, W, h, y0, y1);
        else if (C == 1) forward_rows<scalar_t, 1>(img, cs, tab, o, ws, C, H, W, h, y0, y1);
        else forward_rows<scalar_t, 0>(img, cs, tab, o, ws, C, H, W, h, y0, y1);
      });
    }
  });
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
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t h = window / 2;
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_backward_cpu", [&] {
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* go = grad_out.data_ptr<scalar_t>() + b * C * HW;
      const scalar_t* img = image.data_ptr<scalar_t>() + b * C * HW;
      const scalar_t* cs = sigma.data_ptr<scalar_t>() + b * HW;
      const scalar_t* o = out.data_ptr<scalar_t>() + b * C * HW;
      const scalar_t* ws = wsum.data_ptr<scalar_t>() + b * HW;
      scalar_t* gi = g_img.data_ptr<scalar_t>() + b * C * HW;
      scalar_t* gs = g_sig.data_ptr<scalar_t>() + b * HW;
      const PsfTable<scalar_t> tab(cs, HW, h);
      for_row_chunks(H, [&](int64_t y0, int64_t y1) {
        if (C == 3) backward_rows<scalar_t, 3>(go, img, cs, o, ws, tab, gi, gs, C, H, W, h, y0, y1);
        else if (C == 1) backward_rows<scalar_t, 1>(go, img, cs, o, ws, tab, gi, gs, C, H, W, h, y0, y1);
        else backward_rows<scalar_t, 0>(go, img, cs, o, ws, tab, gi, gs, C, H, W, h, y0, y1);
      });
    }
  });
  return {g_img, g_sig};
}

}  // namespace cpu
}  // namespace mmbokeh
