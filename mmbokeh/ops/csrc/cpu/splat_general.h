// General CPU path of splat_bokeh (gaussian kernel, or occlusion): every pixel of each source's window is visited.
// With occlusion the weight depends on the target's defocus too, so the backward pass also scatters gradients to
// targets; both passes run under for_each_stripe.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "splat_common.h"

namespace mmbokeh {
namespace cpu {

// Kernel weight k and dk/dr of one (source, target) pair; false when the pair is outside the support.
template <typename scalar_t>
struct Weigher {
  int kernel;
  const DiscTables* tab;
  Disc<scalar_t> disc;
  std::vector<scalar_t> g1;  // gaussian: exp(-d^2 / (2 v)), d = 0..half
  scalar_t r, v, q;
  int half;
  Weigher(int kernel_, const DiscTables* tab_, scalar_t radius)
      : kernel(kernel_), tab(tab_), disc(radius), r(radius), v(0), q(0) {
    half = splat_half_window(r, kernel);
    if (kernel == kGaussian) {
      v = r * r * scalar_t(0.25) + scalar_t(kGaussianVar0);
      q = scalar_t(1) / (scalar_t(kTwoPi) * v);
      g1.resize(half + 1);
      for (int i = 0; i <= half; ++i) g1[i] = std::exp(-static_cast<scalar_t>(i * i) / (scalar_t(2) * v));
    }
  }
  bool operator()(int64_t dx, int64_t dy, scalar_t& k, scalar_t& dk) const {
    if (kernel == kGaussian) {
      k = g1[dx < 0 ? -dx : dx] * g1[dy < 0 ? -dy : dy] * q;
      const scalar_t n = static_cast<scalar_t>(dx * dx + dy * dy);
      dk = k * (n / (scalar_t(2) * v * v) - scalar_t(1) / v) * r * scalar_t(0.5);
      return true;
    }
    scalar_t s;
    if (!disc.edge(*tab, dx * dx + dy * dy, s)) return false;
    k = s * disc.inv_n;
    dk = scalar_t(8) * s * (scalar_t(1) - s) * disc.inv_n + s * disc.dinv_n;
    return true;
  }
};

template <typename scalar_t>
void general_forward_rows(const Image<scalar_t>& im, const DiscTables* tab, int kernel, bool occlusion,
                          scalar_t margin, scalar_t sharp, double* direct, int64_t y_begin, int64_t y_end) {
  const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = C + 1;
  std::vector<double> val(nc);
  for (int64_t y0 = y_begin; y0 < y_end; ++y0) {
    for (int64_t x0 = 0; x0 < W; ++x0) {
      const scalar_t D = im.def[y0 * W + x0];
      const Weigher<scalar_t> wg(kernel, tab, std::abs(D));
      for (int64_t c = 0; c < C; ++c) val[c] = static_cast<double>(im.img[c * HW + y0 * W + x0]);
      val[C] = 1.0;
      const int64_t h = wg.half;
      for (int64_t dy = std::max<int64_t>(-h, -y0); dy <= std::min<int64_t>(h, H - 1 - y0); ++dy) {
        for (int64_t dx = std::max<int64_t>(-h, -x0); dx <= std::min<int64_t>(h, W - 1 - x0); ++dx) {
          scalar_t k, dk;
          if (!wg(dx, dy, k, dk)) continue;
          const int64_t t = (y0 + dy) * W + x0 + dx;
          if (occlusion) {
            scalar_t g, dg;
            occlusion_gate(D, im.def[t], margin, sharp, g, dg);
            k *= g;
          }
          double* out = direct + t * nc;
          for (int64_t c = 0; c < nc; ++c) out[c] += static_cast<double>(k) * val[c];
        }
      }
    }
  }
}

template <typename scalar_t>
void general_backward_rows(const Image<scalar_t>& im, const DiscTables* tab, int kernel, bool occlusion,
                           scalar_t margin, scalar_t sharp, const double* pq, scalar_t* g_img, double* g_def,
                           int64_t y_begin, int64_t y_end) {
  const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = C + 1;
  std::vector<double> val(nc), gi(nc);
  for (int64_t y0 = y_begin; y0 < y_end; ++y0) {
    for (int64_t x0 = 0; x0 < W; ++x0) {
      const scalar_t D = im.def[y0 * W + x0];
      const Weigher<scalar_t> wg(kernel, tab, std::abs(D));
      for (int64_t c = 0; c < C; ++c) val[c] = static_cast<double>(im.img[c * HW + y0 * W + x0]);
      std::fill(gi.begin(), gi.end(), 0.0);
      double gr = 0.0, gs = 0.0;
      const int64_t h = wg.half;
      for (int64_t dy = std::max<int64_t>(-h, -y0); dy <= std::min<int64_t>(h, H - 1 - y0); ++dy) {
        for (int64_t dx = std::max<int64_t>(-h, -x0); dx <= std::min<int64_t>(h, W - 1 - x0); ++dx) {
          scalar_t k, dk;
          if (!wg(dx, dy, k, dk)) continue;
          const int64_t t = (y0 + dy) * W + x0 + dx;
          const double* p = pq + t * nc;
          double m = -p[C];
          for (int64_t c = 0; c < C; ++c) m += val[c] * p[c];
          double w = static_cast<double>(k);
          if (occlusion) {
            scalar_t g, dg;
            occlusion_gate(D, im.def[t], margin, sharp, g, dg);
            w *= static_cast<double>(g);
            gr += static_cast<double>(dk * g) * m;
            const double gate = static_cast<double>(k * dg) * m;
            gs += gate;
            g_def[t] -= gate;
          } else {
            gr += static_cast<double>(dk) * m;
          }
          for (int64_t c = 0; c < C; ++c) gi[c] += w * p[c];
        }
      }
      for (int64_t c = 0; c < C; ++c) g_img[c * HW + y0 * W + x0] = static_cast<scalar_t>(gi[c]);
      g_def[y0 * W + x0] += (D > 0 ? gr : (D < 0 ? -gr : 0.0)) + gs;
    }
  }
}


}  // namespace cpu
}  // namespace mmbokeh
