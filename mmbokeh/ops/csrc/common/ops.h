// Declarations of the host entry points of mmbokeh's DoF ops (one set per device).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>
#include <vector>

namespace mmbokeh {

#define MMB_DECLARE_OPS(NS)                                                                                        \
  namespace NS {                                                                                                   \
  std::vector<at::Tensor> splat_bokeh_forward(const at::Tensor& image, const at::Tensor& defocus, int64_t kernel,  \
                                              bool occlusion, double margin, double sharpness);                    \
  std::vector<at::Tensor> splat_bokeh_backward(const at::Tensor& grad_out, const at::Tensor& image,                \
                                               const at::Tensor& defocus, const at::Tensor& out,                   \
                                               const at::Tensor& wsum, int64_t kernel, bool occlusion,             \
                                               double margin, double sharpness);                                   \
  std::vector<at::Tensor> psf_blur_forward(const at::Tensor& image, const at::Tensor& sigma, int64_t window);      \
  std::vector<at::Tensor> psf_blur_backward(const at::Tensor& grad_out, const at::Tensor& image,                   \
                                            const at::Tensor& sigma, const at::Tensor& out,                        \
                                            const at::Tensor& wsum, int64_t window);                               \
  std::vector<at::Tensor> rasterize_forward(const at::Tensor& means2d, const at::Tensor& conics,                   \
                                            const at::Tensor& opacities, const at::Tensor& colors,                 \
                                            const at::Tensor& depths, const at::Tensor& tile_offsets,              \
                                            const at::Tensor& flat_ids, int64_t width, int64_t height,             \
                                            int64_t tile_size);                                                    \
  std::vector<at::Tensor> rasterize_backward(                                                                      \
      const at::Tensor& grad_color, const at::Tensor& grad_depth, const at::Tensor& grad_alpha,                    \
      const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities, const at::Tensor& colors,  \
      const at::Tensor& depths, const at::Tensor& tile_offsets, const at::Tensor& flat_ids, int64_t width,         \
      int64_t height, int64_t tile_size, const at::Tensor& color, const at::Tensor& depth,                         \
      const at::Tensor& alpha);                                                                                    \
  }

MMB_DECLARE_OPS(cpu)
MMB_DECLARE_OPS(cuda)

#undef MMB_DECLARE_OPS

// Argument checks shared by both devices; they raise RuntimeError (never crash) on misuse.
void check_splat_inputs(const at::Tensor& image, const at::Tensor& defocus, int64_t kernel);
void check_psf_inputs(const at::Tensor& image, const at::Tensor& sigma, int64_t window);
void check_raster_inputs(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                         const at::Tensor& colors, const at::Tensor& depths, const at::Tensor& tile_offsets,
                         const at::Tensor& flat_ids, int64_t width, int64_t height, int64_t tile_size);

// Rasterisation constants (the reference uses the same numbers).
constexpr double kMinAlpha = 1.0 / 255.0;
constexpr double kMaxAlpha = 0.99;

}  // namespace mmbokeh
