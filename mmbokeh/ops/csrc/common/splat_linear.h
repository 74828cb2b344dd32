// Per-source and per-row bodies of the linear-time splat_bokeh kernels on the GPU (soft disc without occlusion, and
// the layered occlusion mode for both kernels), written as __host__ __device__ functions so that the CUDA kernels
// (../cuda/splat_linear.cu) and a serial host emulation (tests/ops/cuda_emulation/) run the same code.
//
// Soft disc of radius r, R = floor(r), as the CPU fast path (../cpu/splat_disc_fast.h): in row dy of the window
// |dx|, |dy| <= R + 1 the core |dx| <= core (rho < R - 1.5, weight 1 / (r^2 + 0.2) to within 6.1e-6) is one span
// written as +v / -v into a row difference buffer, the band core < |dx| <= outer (rho <= R + 2.5) gets the exact
// weight (1 / (r^2 + 0.2)) / (1 + exp(8 (rho - r))), the tail (below 6.1e-6 of the core weight) is dropped.
// Gaussian kernel: every pixel of the window, exact weights.
//
// Buffers (b = batch item, nc = C + 1 channels: colour, then weight):
//   diff   [B, H, W+1, nc] acc_t   span differences (soft disc)      direct [B, H, W, nc] acc_t  band / window
//   num    [B, H, W, nc]   double  composited numerator and weight   pq     [B, H, W, nc] double (grad / W, Q)
//   gq     [B, H, W, nc]   acc_t   gate * pq of one layer             pre    [B, H, W+1, nc] double  its prefix sums
//   gdt    [B, H, W]       double  dL/dD(t) through the gates
// The composite of a row clears the diff / direct entries it read, so one zeroing per call suffices.
#pragma once

#include <cstdint>

#include "splat_math.h"

namespace mmbokeh {
namespace linear {

struct Dims {
  int64_t B, C, H, W;
};

// Atomic (GPU) or plain (host emulation) addition.
struct DeviceAdd {
  template <typename T>
  MMB_HD static void add(T* p, T v) {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, v);
#else
    *p += v;
#endif
  }
};

MMB_HD int64_t isqrt(int64_t n) {
  if (n <= 0) return 0;
  int64_t s = static_cast<int64_t>(sqrt(static_cast<double>(n)));
  while (s * s > n) --s;
  while ((s + 1) * (s + 1) <= n) ++s;
  return s;
}

// Row dy of the soft disc with R = floor(r): largest |dx| of the core span (-1: none) and of the band (-1: none).
MMB_HD void disc_row(int64_t R, int64_t dy, int64_t& core, int64_t& outer) {
  const int64_t inner4 = (2 * R - 3) * (2 * R - 3), outer4 = (2 * R + 5) * (2 * R + 5), dy2 = dy * dy;
  core = (R >= 2 && 4 * dy2 < inner4) ? isqrt((inner4 - 1) / 4 - dy2) : -1;  // 4 (dx^2 + dy^2) < inner4
  if (dy > R + 1 || dy < -(R + 1) || 4 * dy2 > outer4) {
    outer = -1;
    return;
  }
  outer = isqrt((outer4 - 4 * dy2) / 4);  // 4 (dx^2 + dy^2) <= outer4
  if (outer > R + 1) outer = R + 1;
}

// Occlusion gate of the layer with centre `centre` at a target of defocus d: g and dg/dd (saturated beyond |z| = 14,
// within 8.3e-7).
MMB_HD void layer_gate(double centre, double d, double margin, double sharp, double& g, double& dg) {
  const double z = sharp * (centre - d + margin);
  if (z >= 14.0) {
    g = 1.0;
    dg = 0.0;
  } else if (z <= -14.0) {
    g = 0.0;
    dg = 0.0;
  } else {
    g = 1.0 / (1.0 + exp(-z));
    dg = -sharp * g * (1.0 - g);
  }
}

// Scatter of source pixel (b, y0, x0), soft disc.
template <typename scalar_t, typename acc_t, typename Add>
MMB_HD void disc_scatter(const scalar_t* img, const scalar_t* def, Dims s, int64_t b, int64_t y0, int64_t x0,
                         acc_t* diff, acc_t* direct) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W, nc = C + 1;
  const int64_t px = y0 * W + x0;
  const scalar_t D = def[b * HW + px];
  const acc_t r = static_cast<acc_t>(D < scalar_t(0) ? -D : D);
  const int64_t R = static_cast<int64_t>(floor(r));
  const acc_t inv_n = acc_t(1) / (r * r + acc_t(kSoftDiscReg));
  const scalar_t* src = img + b * C * HW + px;
  for (int64_t dy = -(R + 1); dy <= R + 1; ++dy) {
    const int64_t y = y0 + dy;
    if (y < 0 || y >= H) continue;
    int64_t core, outer;
    disc_row(R, dy, core, outer);
    if (core >= 0) {
      const int64_t xl = x0 - core < 0 ? 0 : x0 - core, xr = x0 + core > W - 1 ? W - 1 : x0 + core;
      acc_t* lo = diff + ((b * H + y) * (W + 1) + xl) * nc;
      acc_t* hi = diff + ((b * H + y) * (W + 1) + xr + 1) * nc;
      for (int64_t c = 0; c <= C; ++c) {
        const acc_t v = inv_n * (c < C ? static_cast<acc_t>(src[c * HW]) : acc_t(1));
        Add::add(lo + c, v);
        Add::add(hi + c, -v);
      }
    }
    for (int64_t dx = -outer; dx <= outer; ++dx) {
      if (dx >= -core && dx <= core) continue;
      const int64_t x = x0 + dx;
      if (x < 0 || x >= W) continue;
      const acc_t rho = static_cast<acc_t>(sqrt(static_cast<double>(dx * dx + dy * dy)));
      const acc_t w = inv_n / (acc_t(1) + exp(acc_t(8) * (rho - r)));
      acc_t* out = direct + ((b * H + y) * W + x) * nc;
      for (int64_t c = 0; c <= C; ++c) Add::add(out + c, w * (c < C ? static_cast<acc_t>(src[c * HW]) : acc_t(1)));
    }
  }
}

// Scatter of source pixel (b, y0, x0), gaussian kernel (every pixel of the window into `direct`).
template <typename scalar_t, typename acc_t, typename Add>
MMB_HD void gauss_scatter(const scalar_t* img, const scalar_t* def, Dims s, int64_t b, int64_t y0, int64_t x0,
                          acc_t* direct) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W, nc = C + 1;
  const int64_t px = y0 * W + x0;
  const scalar_t D = def[b * HW + px];
  const scalar_t r = D < scalar_t(0) ? -D : D;
  const int64_t h = splat_half_window(r, kGaussian);
  const scalar_t* src = img + b * C * HW + px;
  for (int64_t dy = -h; dy <= h; ++dy) {
    const int64_t y = y0 + dy;
    if (y < 0 || y >= H) continue;
    for (int64_t dx = -h; dx <= h; ++dx) {
      const int64_t x = x0 + dx;
      if (x < 0 || x >= W) continue;
      scalar_t w, dw;
      splat_weight(static_cast<int>(kGaussian), r, static_cast<scalar_t>(dx * dx + dy * dy), w, dw);
      acc_t* out = direct + ((b * H + y) * W + x) * nc;
      for (int64_t c = 0; c <= C; ++c)
        Add::add(out + c, static_cast<acc_t>(w) * (c < C ? static_cast<acc_t>(src[c * HW]) : acc_t(1)));
    }
  }
}

// Composite of target row (b, y) for one layer (gated: centre of the layer; otherwise gate 1): num += g (prefix of
// diff + direct), and diff / direct of the row cleared.
template <typename scalar_t, typename acc_t>
MMB_HD void composite_row(const scalar_t* def, Dims s, int64_t b, int64_t y, bool gated, double centre,
                          double margin, double sharp, acc_t* diff, acc_t* direct, double* num) {
  const int64_t H = s.H, W = s.W, nc = s.C + 1;
  acc_t* d = diff ? diff + (b * H + y) * (W + 1) * nc : nullptr;
  acc_t* q = direct + (b * H + y) * W * nc;
  double* o = num + (b * H + y) * W * nc;
  const scalar_t* dt = def + (b * H + y) * W;
  for (int64_t c = 0; c < nc; ++c) {
    double run = 0.0;
    for (int64_t x = 0; x < W; ++x) {
      if (d) {
        run += static_cast<double>(d[x * nc + c]);
        d[x * nc + c] = acc_t(0);
      }
      const double a = run + static_cast<double>(q[x * nc + c]);
      q[x * nc + c] = acc_t(0);
      double g = 1.0, dg = 0.0;
      if (gated) layer_gate(centre, static_cast<double>(dt[x]), margin, sharp, g, dg);
      o[x * nc + c] += g * a;
    }
    if (d) d[W * nc + c] = acc_t(0);
  }
}

// Backward composite of target row (b, y) for one layer: with A = prefix of diff + direct (then cleared),
// gdt += dg * (sum_c<C P_c A_c - Q A_C), gq = g * pq and pre = its row prefix sums.
template <typename scalar_t, typename acc_t>
MMB_HD void composite_row_backward(const scalar_t* def, Dims s, int64_t b, int64_t y, bool gated, double centre,
                                   double margin, double sharp, acc_t* diff, acc_t* direct, const double* pq,
                                   acc_t* gq, double* pre, double* gdt) {
  const int64_t C = s.C, H = s.H, W = s.W, nc = C + 1;
  const int64_t row = b * H + y;
  acc_t* d = diff ? diff + row * (W + 1) * nc : nullptr;
  acc_t* q = direct + row * W * nc;
  const double* p = pq + row * W * nc;
  acc_t* gr = gq + row * W * nc;
  double* pr = pre ? pre + row * (W + 1) * nc : nullptr;
  double* gd = gdt + row * W;
  const scalar_t* dt = def + row * W;
  for (int64_t c = 0; c < nc; ++c) {
    double run = 0.0;
    if (pr) pr[c] = 0.0;
    for (int64_t x = 0; x < W; ++x) {
      if (d) {
        run += static_cast<double>(d[x * nc + c]);
        d[x * nc + c] = acc_t(0);
      }
      const double a = run + static_cast<double>(q[x * nc + c]);
      q[x * nc + c] = acc_t(0);
      double g = 1.0, dg = 0.0;
      if (gated) layer_gate(centre, static_cast<double>(dt[x]), margin, sharp, g, dg);
      const double pc = p[x * nc + c];
      if (dg != 0.0) gd[x] += dg * (c < C ? pc * a : -pc * a);
      gr[x * nc + c] = static_cast<acc_t>(g * pc);
      if (pr) pr[(x + 1) * nc + c] = pr[x * nc + c] + g * pc;
    }
    if (d) d[W * nc + c] = acc_t(0);
  }
}

// Gradients of source pixel (b, y0, x0), soft disc, from the gated gq / pre of its layer: writes the image gradient
// and the defocus gradient through r (sign of D included).
template <typename scalar_t, typename acc_t>
MMB_HD void disc_gather(const scalar_t* img, const scalar_t* def, Dims s, int64_t b, int64_t y0, int64_t x0,
                        const acc_t* gq, const double* pre, scalar_t* g_img, scalar_t* g_def) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W, nc = C + 1;
  const int64_t px = y0 * W + x0;
  const scalar_t D = def[b * HW + px];
  const acc_t r = static_cast<acc_t>(D < scalar_t(0) ? -D : D);
  const int64_t R = static_cast<int64_t>(floor(r));
  const acc_t inv_n = acc_t(1) / (r * r + acc_t(kSoftDiscReg));
  const acc_t dinv_n = acc_t(-2) * r * inv_n * inv_n;
  const scalar_t* src = img + b * C * HW + px;
  double grad_r = 0.0;
  for (int64_t c = 0; c < nc; ++c) {  // per channel: S = sum w P_c (image gradient), T = sum dw/dr P_c
    double S = 0.0, T = 0.0;
    for (int64_t dy = -(R + 1); dy <= R + 1; ++dy) {
      const int64_t y = y0 + dy;
      if (y < 0 || y >= H) continue;
      int64_t core, outer;
      disc_row(R, dy, core, outer);
      if (core >= 0) {
        const int64_t xl = x0 - core < 0 ? 0 : x0 - core, xr = x0 + core > W - 1 ? W - 1 : x0 + core;
        const double* row = pre + (b * H + y) * (W + 1) * nc;
        const double span = row[(xr + 1) * nc + c] - row[xl * nc + c];
        S += static_cast<double>(inv_n) * span;
        T += static_cast<double>(dinv_n) * span;
      }
      for (int64_t dx = -outer; dx <= outer; ++dx) {
        if (dx >= -core && dx <= core) continue;
        const int64_t x = x0 + dx;
        if (x < 0 || x >= W) continue;
        const acc_t rho = static_cast<acc_t>(sqrt(static_cast<double>(dx * dx + dy * dy)));
        const acc_t e = acc_t(1) / (acc_t(1) + exp(acc_t(8) * (rho - r)));
        const acc_t w = e * inv_n, dw = acc_t(8) * e * (acc_t(1) - e) * inv_n + e * dinv_n;
        const double v = static_cast<double>(gq[((b * H + y) * W + x) * nc + c]);
        S += static_cast<double>(w) * v;
        T += static_cast<double>(dw) * v;
      }
    }
    if (c < C) {
      g_img[(b * C + c) * HW + px] = static_cast<scalar_t>(S);
      grad_r += static_cast<double>(src[c * HW]) * T;
    } else {
      grad_r -= T;
    }
  }
  g_def[b * HW + px] = static_cast<scalar_t>(D > scalar_t(0) ? grad_r : (D < scalar_t(0) ? -grad_r : 0.0));
}

// Gradients of source pixel (b, y0, x0), gaussian kernel.
template <typename scalar_t, typename acc_t>
MMB_HD void gauss_gather(const scalar_t* img, const scalar_t* def, Dims s, int64_t b, int64_t y0, int64_t x0,
                         const acc_t* gq, scalar_t* g_img, scalar_t* g_def) {
  const int64_t C = s.C, H = s.H, W = s.W, HW = H * W, nc = C + 1;
  const int64_t px = y0 * W + x0;
  const scalar_t D = def[b * HW + px];
  const scalar_t r = D < scalar_t(0) ? -D : D;
  const int64_t h = splat_half_window(r, kGaussian);
  const scalar_t* src = img + b * C * HW + px;
  double grad_r = 0.0;
  for (int64_t c = 0; c < nc; ++c) {
    double S = 0.0, T = 0.0;
    for (int64_t dy = -h; dy <= h; ++dy) {
      const int64_t y = y0 + dy;
      if (y < 0 || y >= H) continue;
      for (int64_t dx = -h; dx <= h; ++dx) {
        const int64_t x = x0 + dx;
        if (x < 0 || x >= W) continue;
        scalar_t w, dw;
        splat_weight(static_cast<int>(kGaussian), r, static_cast<scalar_t>(dx * dx + dy * dy), w, dw);
        const double v = static_cast<double>(gq[((b * H + y) * W + x) * nc + c]);
        S += static_cast<double>(w) * v;
        T += static_cast<double>(dw) * v;
      }
    }
    if (c < C) {
      g_img[(b * C + c) * HW + px] = static_cast<scalar_t>(S);
      grad_r += static_cast<double>(src[c * HW]) * T;
    } else {
      grad_r -= T;
    }
  }
  g_def[b * HW + px] = static_cast<scalar_t>(D > scalar_t(0) ? grad_r : (D < scalar_t(0) ? -grad_r : 0.0));
}

}  // namespace linear
}  // namespace mmbokeh
