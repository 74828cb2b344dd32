// Kernel math shared by the CPU and CUDA implementations of mmbokeh's DoF ops.
//
// Every formula here mirrors the pure-PyTorch reference in mmbokeh/ops/reference/ (the oracle):
//   soft disc (BokehMe):  w(r, rho) = (0.5 + 0.5 tanh(4 (r - rho))) / (r^2 + 0.2), window |dx|,|dy| <= floor(r) + 1
//   gaussian:             w(r, rho) = exp(-rho^2 / (2 v)) / (2 pi v), v = r^2 / 4 + 0.1,
//                         window |dx|,|dy| <= floor(3 sqrt(v)) + 1
//   occlusion gate:       g = sigmoid(sharpness (D_src - D_dst + margin))
//   Gur & Wolf PSF:       g(c, rho) = c^-2 exp(-2 rho^2 / c^2)
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define MMB_HD __host__ __device__ __forceinline__
#else
#define MMB_HD inline
#endif

namespace mmbokeh {

#if !defined(__CUDACC__)
using std::exp;
using std::floor;
using std::sqrt;
using std::tanh;
#endif

enum SplatKernel : int { kSoftDisc = 0, kGaussian = 1 };

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kSoftDiscReg = 0.2;   // BokehMe's normaliser r^2 + 0.2
constexpr double kGaussianVar0 = 0.1;  // variance floor of the gaussian kernel (px^2)

// Half size of the square window that a source of radius r scatters over.
template <typename T>
MMB_HD int splat_half_window(T r, int kernel) {
  if (kernel == kSoftDisc) return static_cast<int>(floor(r)) + 1;
  const T v = r * r * T(0.25) + T(kGaussianVar0);
  return static_cast<int>(floor(T(3) * sqrt(v))) + 1;
}

// Exact weight w of a target at squared distance rho2 from a source of radius r, and dw/dr.
template <typename T>
MMB_HD void splat_weight(int kernel, T r, T rho2, T& w, T& dw_dr) {
  if (kernel == kSoftDisc) {
    const T n = T(1) / (r * r + T(kSoftDiscReg));
    const T t = tanh(T(4) * (r - sqrt(rho2)));
    const T s = T(0.5) + T(0.5) * t;
    w = s * n;
    dw_dr = T(2) * (T(1) - t * t) * n - w * T(2) * r * n;
  } else {
    const T v = r * r * T(0.25) + T(kGaussianVar0);
    w = exp(-rho2 / (T(2) * v)) / (T(kTwoPi) * v);
    dw_dr = w * (rho2 / (T(2) * v * v) - T(1) / v) * r * T(0.5);
  }
}

// Occlusion gate of a source with signed defocus ds seen from a target with signed defocus dt.
// g ~ 1 when the source is not behind the target by more than `margin` pixels of defocus; dg = dg/dds = -dg/ddt.
template <typename T>
MMB_HD void occlusion_gate(T ds, T dt, T margin, T sharpness, T& g, T& dg) {
  const T x = sharpness * (ds - dt + margin);
  g = T(1) / (T(1) + exp(-x));
  dg = sharpness * g * (T(1) - g);
}

// Gur & Wolf Gaussian PSF weight and its derivative with respect to c.
template <typename T>
MMB_HD T psf_weight(T c, T rho2) {
  return exp(T(-2) * rho2 / (c * c)) / (c * c);
}
template <typename T>
MMB_HD T psf_dweight(T c, T rho2, T g) {
  return g * (T(4) * rho2 / (c * c * c) - T(2) / c);
}

}  // namespace mmbokeh
