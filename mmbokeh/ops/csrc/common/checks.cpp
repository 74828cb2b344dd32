// Argument checks of the compiled ops: the Python wrappers validate first, these guard direct calls.
#include "ops.h"

namespace mmbokeh {

namespace {
void check_float(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, name,
              " must be float32 or float64, got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}
}  // namespace

void check_splat_inputs(const at::Tensor& image, const at::Tensor& defocus, int64_t kernel) {
  TORCH_CHECK(image.dim() == 4, "image must be [B,C,H,W], got ", image.sizes());
  TORCH_CHECK(defocus.dim() == 4 && defocus.size(1) == 1, "defocus must be [B,1,H,W], got ", defocus.sizes());
  TORCH_CHECK(image.size(0) == defocus.size(0) && image.size(2) == defocus.size(2) &&
                  image.size(3) == defocus.size(3),
              "image ", image.sizes(), " and defocus ", defocus.sizes(), " disagree on B, H or W");
  TORCH_CHECK(image.numel() > 0, "image is empty: ", image.sizes());
  TORCH_CHECK(kernel == 0 || kernel == 1, "kernel id must be 0 (soft_disc) or 1 (gaussian), got ", kernel);
  check_float(image, "image");
  check_float(defocus, "defocus");
  TORCH_CHECK(image.scalar_type() == defocus.scalar_type(), "image and defocus dtypes differ");
  TORCH_CHECK(image.device() == defocus.device(), "image and defocus are on different devices");
}

void check_psf_inputs(const at::Tensor& image, const at::Tensor& sigma, int64_t window) {
  TORCH_CHECK(image.dim() == 4, "image must be [B,C,H,W], got ", image.sizes());
  TORCH_CHECK(sigma.dim() == 4 && sigma.size(1) == 1, "sigma must be [B,1,H,W], got ", sigma.sizes());
  TORCH_CHECK(image.size(0) == sigma.size(0) && image.size(2) == sigma.size(2) && image.size(3) == sigma.size(3),
              "image ", image.sizes(), " and sigma ", sigma.sizes(), " disagree on B, H or W");
  TORCH_CHECK(image.numel() > 0, "image is empty: ", image.sizes());
  TORCH_CHECK(window >= 1 && window % 2 == 1, "window must be a positive odd integer, got ", window);
  check_float(image, "image");
  check_float(sigma, "sigma");
  TORCH_CHECK(image.scalar_type() == sigma.scalar_type(), "image and sigma dtypes differ");
  TORCH_CHECK(image.device() == sigma.device(), "image and sigma are on different devices");
}

void check_raster_inputs(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                         const at::Tensor& colors, const at::Tensor& depths, const at::Tensor& tile_offsets,
                         const at::Tensor& flat_ids, int64_t width, int64_t height, int64_t tile_size) {
  const int64_t n = means2d.size(0);
  TORCH_CHECK(means2d.dim() == 2 && means2d.size(1) == 2, "means2d must be [N,2]");
  TORCH_CHECK(conics.dim() == 2 && conics.size(0) == n && conics.size(1) == 3, "conics must be [N,3]");
  TORCH_CHECK(opacities.dim() == 1 && opacities.size(0) == n, "opacities must be [N]");
  TORCH_CHECK(colors.dim() == 2 && colors.size(0) == n && colors.size(1) >= 1, "colors must be [N,C]");
  TORCH_CHECK(depths.dim() == 1 && depths.size(0) == n, "depths must be [N]");
  TORCH_CHECK(width > 0 && height > 0 && tile_size > 0, "width, height and tile_size must be positive");
  const int64_t tiles = ((width + tile_size - 1) / tile_size) * ((height + tile_size - 1) / tile_size);
  TORCH_CHECK(tile_offsets.dim() == 1 && tile_offsets.size(0) == tiles + 1, "tile_offsets must be [n_tiles+1]");
  TORCH_CHECK(tile_offsets.scalar_type() == at::kInt && flat_ids.scalar_type() == at::kInt,
              "tile_offsets and flat_ids must be int32");
  TORCH_CHECK(tile_offsets.is_contiguous() && flat_ids.is_contiguous() && flat_ids.dim() == 1,
              "tile_offsets and flat_ids must be contiguous 1-D");
  if (flat_ids.numel() > 0) {
    TORCH_CHECK(flat_ids.min().item<int32_t>() >= 0 && flat_ids.max().item<int32_t>() < n,
                "flat_ids must index the N gaussians");
  }
  const at::Tensor off = tile_offsets.cpu();
  const int32_t* o = off.data_ptr<int32_t>();
  bool rising = o[0] == 0 && o[tiles] == flat_ids.numel();
  for (int64_t i = 0; rising && i < tiles; ++i) rising = o[i + 1] >= o[i];
  TORCH_CHECK(rising, "tile_offsets must rise from 0 to len(flat_ids)");
  for (const auto* t : {&means2d, &conics, &opacities, &colors, &depths}) check_float(*t, "gaussian parameters");
  TORCH_CHECK(means2d.scalar_type() == conics.scalar_type() && means2d.scalar_type() == opacities.scalar_type() &&
                  means2d.scalar_type() == colors.scalar_type() && means2d.scalar_type() == depths.scalar_type(),
              "gaussian parameters must share one dtype");
}

}  // namespace mmbokeh
