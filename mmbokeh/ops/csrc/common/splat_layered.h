// Layered occlusion-aware splat_bokeh (``occlusion='layered'``): declarations and the gate shared by both devices.
//
// Every source s belongs to the depth layer l(s) = floor(D(s) / h) (computed by the Python wrapper, so that the
// reference and the kernels agree on it), whose centre is c = (l + 0.5) h. The occlusion gate of a (source, target)
// pair uses the source's layer centre instead of its own defocus:
//   g(s, t) = sigmoid(sharpness (c(s) - D(t) + margin)),
// so within a layer the gate depends on the target only and every layer is scattered with the plain (linear in r)
// soft disc and composited into the target with its own gate. Gradients reach the image, the radius of every source
// and the defocus of every target (the layer index is piecewise constant: no gradient through c).
//
// With the target's layer L(t) and residual u(t) = sharpness (D(t) - c(L(t))), |u| <= sharpness h / 2:
//   g = 1 / (1 + T[l - L(t)] exp(u(t))),  T[k] = exp(-sharpness (k h + margin)),
// g taken as 1 when k = l - L(t) > k_hi and as 0 when k < k_lo, where either way it is within 8.3e-7 of that
// (|sharpness (k h + margin) - u| >= 14).
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "splat_math.h"

namespace mmbokeh {

#define MMB_DECLARE_LAYERED(NS)                                                                                    \
  namespace NS {                                                                                                   \
  std::vector<at::Tensor> splat_bokeh_layered_forward(const at::Tensor& image, const at::Tensor& defocus,          \
                                                      const at::Tensor& layer, int64_t kernel, double layer_width, \
                                                      double margin, double sharpness);                            \
  std::vector<at::Tensor> splat_bokeh_layered_backward(                                                            \
      const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus, const at::Tensor& layer,     \
      const at::Tensor& out, const at::Tensor& wsum, int64_t kernel, double layer_width, double margin,             \
      double sharpness);                                                                                           \
  }

MMB_DECLARE_LAYERED(cpu)
MMB_DECLARE_LAYERED(cuda)

#undef MMB_DECLARE_LAYERED

namespace cuda {
// The soft disc without occlusion in time linear in r (../cuda/splat_linear.cu), behind splat_bokeh_forward/backward.
std::vector<at::Tensor> splat_disc_linear_forward(const at::Tensor& image, const at::Tensor& defocus);
std::vector<at::Tensor> splat_disc_linear_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                                   const at::Tensor& defocus, const at::Tensor& out,
                                                   const at::Tensor& wsum);
}  // namespace cuda

// Checks of the layered entry points (besides check_splat_inputs): layer is int32 [B,1,H,W] like defocus.
inline void check_layered_inputs(const at::Tensor& defocus, const at::Tensor& layer, double layer_width,
                                 double sharpness) {
  TORCH_CHECK(layer.sizes() == defocus.sizes(), "layer must have the shape of defocus ", defocus.sizes(), ", got ",
              layer.sizes());
  TORCH_CHECK(layer.scalar_type() == at::kInt && layer.is_contiguous(), "layer must be a contiguous int32 tensor");
  TORCH_CHECK(layer.device() == defocus.device(), "layer and defocus are on different devices");
  TORCH_CHECK(std::isfinite(layer_width) && layer_width >= 1.0 / 64, "layer_width must be >= 1/64 px, got ",
              layer_width);
  TORCH_CHECK(std::isfinite(sharpness) && sharpness > 0, "the occlusion sharpness must be > 0, got ", sharpness);
}

// Gate table of the layered mode: g(k, e) for k = l - L(t) in [k_lo, k_hi], e = exp(u(t)).
struct LayerGate {
  double h = 0, margin = 0, sharp = 0;
  int64_t k_lo = 0, k_hi = -1;
  std::vector<double> T;  // exp(-sharpness (k h + margin)), k = k_lo .. k_hi

  static constexpr double kSaturation = 14.0;  // sigmoid(-14) = 8.3e-7

  LayerGate(double layer_width, double margin_, double sharpness) : h(layer_width), margin(margin_), sharp(sharpness) {
    // g == 1 (to 8.3e-7) for k > k_hi: sharpness (k h + margin) - sharpness h / 2 >= 14
    k_hi = static_cast<int64_t>(std::ceil((kSaturation / sharp + 0.5 * h - margin) / h));
    // g == 0 (to 8.3e-7) for k < k_lo: sharpness (k h + margin) + sharpness h / 2 <= -14
    k_lo = static_cast<int64_t>(std::floor((-kSaturation / sharp - 0.5 * h - margin) / h));
    T.resize(static_cast<size_t>(k_hi - k_lo + 1));
    for (int64_t k = k_lo; k <= k_hi; ++k) T[k - k_lo] = std::exp(-sharp * (static_cast<double>(k) * h + margin));
  }
  // exp(u) of a target of defocus d in layer l (|u| <= sharpness h / 2), in the precision T of the inputs
  template <typename T>
  double residual(T d, int64_t l) const {
    return static_cast<double>(std::exp(static_cast<T>(sharp * (static_cast<double>(d) - (l + 0.5) * h))));
  }
};

}  // namespace mmbokeh
