// CUDA kernels of the Gaussian-splat compositor: one block per tile, one thread per pixel, walking the tile's
// depth-sorted list (same rules as the CPU kernel and the reference); per-Gaussian gradients by float64 atomics.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include "../common/ops.h"
#include "cuda_utils.cuh"

namespace mmbokeh {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void raster_forward_kernel(const scalar_t* __restrict__ mu, const scalar_t* __restrict__ cn,
                                      const scalar_t* __restrict__ op, const scalar_t* __restrict__ col,
                                      const scalar_t* __restrict__ z, const int32_t* __restrict__ off,
                                      const int32_t* __restrict__ ids, scalar_t* __restrict__ oc,
                                      scalar_t* __restrict__ od, scalar_t* __restrict__ oa, int64_t C, int64_t W,
                                      int64_t H, int64_t ts, int64_t tx) {
  const int64_t tile = blockIdx.x;
  const int64_t x = (tile % tx) * ts + threadIdx.x, y = (tile / tx) * ts + threadIdx.y;
  if (x >= W || y >= H) return;
  const scalar_t px = static_cast<scalar_t>(x) + scalar_t(0.5), py = static_cast<scalar_t>(y) + scalar_t(0.5);
  const int64_t p = y * W + x;
  for (int64_t c = 0; c < C; ++c) oc[p * C + c] = scalar_t(0);
  scalar_t T = 1;
  double d = 0, a = 0;
  for (int32_t j = off[tile]; j < off[tile + 1]; ++j) {
    const int64_t i = ids[j];
    const scalar_t dx = mu[2 * i] - px, dy = mu[2 * i + 1] - py;
    const scalar_t sig = scalar_t(0.5) * (cn[3 * i] * dx * dx + cn[3 * i + 2] * dy * dy) + cn[3 * i + 1] * dx * dy;
    const scalar_t raw = op[i] * exp(-sig);
    if (raw < scalar_t(kMinAlpha)) continue;
    const scalar_t al = raw < scalar_t(kMaxAlpha) ? raw : scalar_t(kMaxAlpha);
    const scalar_t w = al * T;
    for (int64_t c = 0; c < C; ++c) oc[p * C + c] += w * col[i * C + c];
    d += static_cast<double>(w * z[i]);
    a += static_cast<double>(w);
    T *= scalar_t(1) - al;
  }
  od[p] = static_cast<scalar_t>(d);
  oa[p] = static_cast<scalar_t>(a);
}

template <typename scalar_t>
__global__ void raster_backward_kernel(const scalar_t* __restrict__ gc, const scalar_t* __restrict__ gd,
                                       const scalar_t* __restrict__ ga, const scalar_t* __restrict__ mu,
                                       const scalar_t* __restrict__ cn, const scalar_t* __restrict__ op,
                                       const scalar_t* __restrict__ col, const scalar_t* __restrict__ z,
                                       const int32_t* __restrict__ off, const int32_t* __restrict__ ids,
                                       const scalar_t* __restrict__ fc, const scalar_t* __restrict__ fd,
                                       const scalar_t* __restrict__ fa, double* __restrict__ grads,
                                       double* __restrict__ prefix, int64_t C, int64_t W, int64_t H, int64_t ts,
                                       int64_t tx) {
  const int64_t tile = blockIdx.x;
  const int64_t x = (tile % tx) * ts + threadIdx.x, y = (tile / tx) * ts + threadIdx.y;
  if (x >= W || y >= H) return;
  const int64_t p = y * W + x, stride = 7 + C;
  double* pc = prefix + p * C;  // running sum of colour weights of this pixel
  for (int64_t c = 0; c < C; ++c) pc[c] = 0.0;
  const scalar_t px = static_cast<scalar_t>(x) + scalar_t(0.5), py = static_cast<scalar_t>(y) + scalar_t(0.5);
  double T = 1, pd = 0, pa = 0;
  for (int32_t j = off[tile]; j < off[tile + 1]; ++j) {
    const int64_t i = ids[j];
    const scalar_t dx = mu[2 * i] - px, dy = mu[2 * i + 1] - py;
    const scalar_t sig = scalar_t(0.5) * (cn[3 * i] * dx * dx + cn[3 * i + 2] * dy * dy) + cn[3 * i + 1] * dx * dy;
    const scalar_t ex = exp(-sig);
    const scalar_t raw = op[i] * ex;
    if (raw < scalar_t(kMinAlpha)) continue;
    const bool clamped = raw > scalar_t(kMaxAlpha);
    const double al = static_cast<double>(clamped ? scalar_t(kMaxAlpha) : raw);
    const double w = al * T, inv = 1.0 / (1.0 - al);
    double dal = 0;
    double* g = grads + i * stride;
    for (int64_t c = 0; c < C; ++c) {
      const double cc = static_cast<double>(col[i * C + c]), gcc = static_cast<double>(gc[p * C + c]);
      pc[c] += w * cc;
      dal += gcc * (cc * T - (static_cast<double>(fc[p * C + c]) - pc[c]) * inv);
      atomicAdd(g + 7 + c, gcc * w);
    }
    pd += w * static_cast<double>(z[i]);
    pa += w;
    dal += static_cast<double>(gd[p]) * (static_cast<double>(z[i]) * T - (static_cast<double>(fd[p]) - pd) * inv);
    dal += static_cast<double>(ga[p]) * (T - (static_cast<double>(fa[p]) - pa) * inv);
    atomicAdd(g + 6, static_cast<double>(gd[p]) * w);
    if (!clamped) {
      atomicAdd(g + 5, dal * static_cast<double>(ex));
      const double dsig = -dal * static_cast<double>(raw);
      const double ddx = static_cast<double>(dx), ddy = static_cast<double>(dy);
      atomicAdd(g + 0, dsig * (static_cast<double>(cn[3 * i]) * ddx + static_cast<double>(cn[3 * i + 1]) * ddy));
      atomicAdd(g + 1, dsig * (static_cast<double>(cn[3 * i + 1]) * ddx + static_cast<double>(cn[3 * i + 2]) * ddy));
      atomicAdd(g + 2, dsig * 0.5 * ddx * ddx);
      atomicAdd(g + 3, dsig * ddx * ddy);
      atomicAdd(g + 4, dsig * 0.5 * ddy * ddy);
    }
    T *= 1.0 - al;
  }
}

}  // namespace

std::vector<at::Tensor> rasterize_forward(const at::Tensor& means2d, const at::Tensor& conics,
                                          const at::Tensor& opacities, const at::Tensor& colors,
                                          const at::Tensor& depths, const at::Tensor& tile_offsets,
                                          const at::Tensor& flat_ids, int64_t width, int64_t height,
                                          int64_t tile_size) {
  check_raster_inputs(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, width, height, tile_size);
  TORCH_CHECK(means2d.is_cuda() && tile_offsets.is_cuda() && flat_ids.is_cuda(), "rasterize cuda kernel needs CUDA tensors");
  TORCH_CHECK(tile_size <= 32, "the CUDA compositor needs tile_size <= 32, got ", tile_size);
  const c10::cuda::CUDAGuard guard(means2d.device());
  const int64_t C = colors.size(1), tx = (width + tile_size - 1) / tile_size;
  const int64_t tiles = tx * ((height + tile_size - 1) / tile_size);
  auto opts = means2d.options();
  auto color = at::empty({height, width, C}, opts);
  auto depth = at::empty({height, width}, opts);
  auto alpha = at::empty({height, width}, opts);
  const dim3 block(static_cast<unsigned int>(tile_size), static_cast<unsigned int>(tile_size));
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "rasterize_forward_cuda", [&] {
    raster_forward_kernel<scalar_t><<<static_cast<unsigned int>(tiles), block, 0, stream>>>(
        means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), opacities.data_ptr<scalar_t>(),
        colors.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), tile_offsets.data_ptr<int32_t>(),
        flat_ids.data_ptr<int32_t>(), color.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(),
        alpha.data_ptr<scalar_t>(), C, width, height, tile_size, tx);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {color, depth, alpha};
}

std::vector<at::Tensor> rasterize_backward(const at::Tensor& grad_color, const at::Tensor& grad_depth,
                                           const at::Tensor& grad_alpha, const at::Tensor& means2d,
                                           const at::Tensor& conics, const at::Tensor& opacities,
                                           const at::Tensor& colors, const at::Tensor& depths,
                                           const at::Tensor& tile_offsets, const at::Tensor& flat_ids, int64_t width,
                                           int64_t height, int64_t tile_size, const at::Tensor& color,
                                           const at::Tensor& depth, const at::Tensor& alpha) {
  check_raster_inputs(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, width, height, tile_size);
  TORCH_CHECK(means2d.is_cuda(), "rasterize cuda kernel needs CUDA tensors");
  TORCH_CHECK(tile_size <= 32, "the CUDA compositor needs tile_size <= 32, got ", tile_size);
  TORCH_CHECK(grad_color.sizes() == color.sizes() && grad_depth.sizes() == depth.sizes() &&
                  grad_alpha.sizes() == alpha.sizes() && color.size(0) == height && color.size(1) == width,
              "rasterize backward: gradients do not match the outputs");
  for (const auto* t : {&grad_color, &grad_depth, &grad_alpha, &color, &depth, &alpha})
    TORCH_CHECK(t->is_contiguous() && t->scalar_type() == means2d.scalar_type() && t->is_cuda(),
                "rasterize backward: outputs and gradients must be contiguous CUDA tensors with the parameters' dtype");
  const c10::cuda::CUDAGuard guard(means2d.device());
  const int64_t N = means2d.size(0), C = colors.size(1), tx = (width + tile_size - 1) / tile_size;
  const int64_t tiles = tx * ((height + tile_size - 1) / tile_size);
  auto grads = at::zeros({N, 7 + C}, means2d.options().dtype(at::kDouble));
  auto prefix = at::empty({height, width, C}, grads.options());
  const dim3 block(static_cast<unsigned int>(tile_size), static_cast<unsigned int>(tile_size));
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "rasterize_backward_cuda", [&] {
    raster_backward_kernel<scalar_t><<<static_cast<unsigned int>(tiles), block, 0, stream>>>(
        grad_color.data_ptr<scalar_t>(), grad_depth.data_ptr<scalar_t>(), grad_alpha.data_ptr<scalar_t>(),
        means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), opacities.data_ptr<scalar_t>(),
        colors.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), tile_offsets.data_ptr<int32_t>(),
        flat_ids.data_ptr<int32_t>(), color.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(),
        alpha.data_ptr<scalar_t>(), grads.data_ptr<double>(), prefix.data_ptr<double>(), C, width, height, tile_size,
        tx);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  auto total = grads.to(means2d.scalar_type());
  return {total.slice(1, 0, 2).contiguous(), total.slice(1, 2, 5).contiguous(), total.select(1, 5).contiguous(),
          total.slice(1, 7, 7 + C).contiguous(), total.select(1, 6).contiguous()};
}

}  // namespace cuda
}  // namespace mmbokeh
