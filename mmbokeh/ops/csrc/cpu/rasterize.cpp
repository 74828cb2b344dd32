// CPU kernels of the Gaussian-splat compositor: per pixel, front-to-back alpha compositing of the 2D Gaussians
// binned to its tile (lists already depth-sorted by the Python side).
//
// alpha_i = min(0.99, o_i exp(-sigma_i)), skipped when o_i exp(-sigma_i) < 1/255, with
// sigma_i = 0.5 (a dx^2 + c dy^2) + b dx dy, (dx, dy) = mean_i - (x + 0.5, y + 0.5), conic (a, b, c).
// color = sum_i c_i alpha_i T_i, depth = sum_i z_i alpha_i T_i, alpha = sum_i alpha_i T_i, T_i = prod_{j<i} (1 - a_j).
// The backward pass walks the list front to back again and gets the suffix sums it needs from the saved outputs
// (suffix = total - prefix), so it never divides by (1 - alpha) repeatedly. Per-Gaussian gradients are summed in
// one float64 buffer per thread.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/ops.h"

namespace mmbokeh {
namespace cpu {
namespace {

struct Grid {
  int64_t W, H, ts, tx;
  Grid(int64_t width, int64_t height, int64_t tile) : W(width), H(height), ts(tile), tx((width + tile - 1) / tile) {}
  int64_t tiles() const { return tx * ((H + ts - 1) / ts); }
};

template <typename scalar_t>
void forward_impl(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                  const at::Tensor& colors, const at::Tensor& depths, const at::Tensor& tile_offsets,
                  const at::Tensor& flat_ids, const Grid& g, at::Tensor& color, at::Tensor& depth,
                  at::Tensor& alpha) {
  const int64_t C = colors.size(1);
  const scalar_t* mu = means2d.data_ptr<scalar_t>();
  const scalar_t* cn = conics.data_ptr<scalar_t>();
  const scalar_t* op = opacities.data_ptr<scalar_t>();
  const scalar_t* col = colors.data_ptr<scalar_t>();
  const scalar_t* z = depths.data_ptr<scalar_t>();
  const int32_t* off = tile_offsets.data_ptr<int32_t>();
  const int32_t* ids = flat_ids.data_ptr<int32_t>();
  scalar_t* oc = color.data_ptr<scalar_t>();
  scalar_t* od = depth.data_ptr<scalar_t>();
  scalar_t* oa = alpha.data_ptr<scalar_t>();
  at::parallel_for(0, g.tiles(), 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(C);
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t x0 = (tile % g.tx) * g.ts, y0 = (tile / g.tx) * g.ts;
      for (int64_t y = y0; y < std::min(y0 + g.ts, g.H); ++y) {
        for (int64_t x = x0; x < std::min(x0 + g.ts, g.W); ++x) {
          const scalar_t px = static_cast<scalar_t>(x) + scalar_t(0.5), py = static_cast<scalar_t>(y) + scalar_t(0.5);
          scalar_t T = 1;
          double d = 0, a = 0;
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int32_t j = off[tile]; j < off[tile + 1]; ++j) {
            const int64_t i = ids[j];
            const scalar_t dx = mu[2 * i] - px, dy = mu[2 * i + 1] - py;
            const scalar_t sig = scalar_t(0.5) * (cn[3 * i] * dx * dx + cn[3 * i + 2] * dy * dy) + cn[3 * i + 1] * dx * dy;
            const scalar_t raw = op[i] * std::exp(-sig);
            if (raw < scalar_t(kMinAlpha)) continue;
            const scalar_t al = std::min(raw, scalar_t(kMaxAlpha));
            const scalar_t w = al * T;
            for (int64_t c = 0; c < C; ++c) acc[c] += static_cast<double>(w * col[i * C + c]);
            d += static_cast<double>(w * z[i]);
            a += static_cast<double>(w);
            T *= scalar_t(1) - al;
          }
          const int64_t p = y * g.W + x;
          for (int64_t c = 0; c < C; ++c) oc[p * C + c] = static_cast<scalar_t>(acc[c]);
          od[p] = static_cast<scalar_t>(d);
          oa[p] = static_cast<scalar_t>(a);
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_impl(const at::Tensor& g_color, const at::Tensor& g_depth, const at::Tensor& g_alpha,
                   const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                   const at::Tensor& colors, const at::Tensor& depths, const at::Tensor& tile_offsets,
                   const at::Tensor& flat_ids, const Grid& g, const at::Tensor& color, const at::Tensor& depth,
                   const at::Tensor& alpha, at::Tensor& buffers) {
  const int64_t N = means2d.size(0), C = colors.size(1), stride = 7 + C;  // mean(2) conic(3) opacity depth color(C)
  const scalar_t* mu = means2d.data_ptr<scalar_t>();
  const scalar_t* cn = conics.data_ptr<scalar_t>();
  const scalar_t* op = opacities.data_ptr<scalar_t>();
  const scalar_t* col = colors.data_ptr<scalar_t>();
  const scalar_t* z = depths.data_ptr<scalar_t>();
  const int32_t* off = tile_offsets.data_ptr<int32_t>();
  const int32_t* ids = flat_ids.data_ptr<int32_t>();
  const scalar_t* gc = g_color.data_ptr<scalar_t>();
  const scalar_t* gd = g_depth.data_ptr<scalar_t>();
  const scalar_t* ga = g_alpha.data_ptr<scalar_t>();
  const scalar_t* fc = color.data_ptr<scalar_t>();
  const scalar_t* fd = depth.data_ptr<scalar_t>();
  const scalar_t* fa = alpha.data_ptr<scalar_t>();
  double* buf = buffers.data_ptr<double>();
  at::parallel_for(0, g.tiles(), 1, [&](int64_t begin, int64_t end) {
    double* mine = buf + at::get_thread_num() * N * stride;
    std::vector<double> pc(C);
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t x0 = (tile % g.tx) * g.ts, y0 = (tile / g.tx) * g.ts;
      for (int64_t y = y0; y < std::min(y0 + g.ts, g.H); ++y) {
        for (int64_t x = x0; x < std::min(x0 + g.ts, g.W); ++x) {
          const int64_t p = y * g.W + x;
          const scalar_t px = static_cast<scalar_t>(x) + scalar_t(0.5), py = static_cast<scalar_t>(y) + scalar_t(0.5);
          double T = 1, pd = 0, pa = 0;
          std::fill(pc.begin(), pc.end(), 0.0);
          for (int32_t j = off[tile]; j < off[tile + 1]; ++j) {
            const int64_t i = ids[j];
            const scalar_t dx = mu[2 * i] - px, dy = mu[2 * i + 1] - py;
            const scalar_t sig = scalar_t(0.5) * (cn[3 * i] * dx * dx + cn[3 * i + 2] * dy * dy) + cn[3 * i + 1] * dx * dy;
            const scalar_t ex = std::exp(-sig);
            const scalar_t raw = op[i] * ex;
            if (raw < scalar_t(kMinAlpha)) continue;
            const bool clamped = raw > scalar_t(kMaxAlpha);
            const double al = static_cast<double>(std::min(raw, scalar_t(kMaxAlpha)));
            const double w = al * T, inv = 1.0 / (1.0 - al);
            double dal = 0;
            double* gi = mine + i * stride;
            for (int64_t c = 0; c < C; ++c) {
              const double cc = static_cast<double>(col[i * C + c]), gcc = static_cast<double>(gc[p * C + c]);
              pc[c] += w * cc;
              dal += gcc * (cc * T - (static_cast<double>(fc[p * C + c]) - pc[c]) * inv);
              gi[7 + c] += gcc * w;
            }
            pd += w * static_cast<double>(z[i]);
            pa += w;
            dal += static_cast<double>(gd[p]) * (static_cast<double>(z[i]) * T - (static_cast<double>(fd[p]) - pd) * inv);
            dal += static_cast<double>(ga[p]) * (T - (static_cast<double>(fa[p]) - pa) * inv);
            gi[6] += static_cast<double>(gd[p]) * w;
            if (!clamped) {
              gi[5] += dal * static_cast<double>(ex);
              const double dsig = -dal * static_cast<double>(raw);
              const double ddx = static_cast<double>(dx), ddy = static_cast<double>(dy);
              gi[0] += dsig * (static_cast<double>(cn[3 * i]) * ddx + static_cast<double>(cn[3 * i + 1]) * ddy);
              gi[1] += dsig * (static_cast<double>(cn[3 * i + 1]) * ddx + static_cast<double>(cn[3 * i + 2]) * ddy);
              gi[2] += dsig * 0.5 * ddx * ddx;
              gi[3] += dsig * ddx * ddy;
              gi[4] += dsig * 0.5 * ddy * ddy;
            }
            T *= 1.0 - al;
          }
        }
      }
    }
  });
}

}  // namespace

std::vector<at::Tensor> rasterize_forward(const at::Tensor& means2d, const at::Tensor& conics,
                                          const at::Tensor& opacities, const at::Tensor& colors,
                                          const at::Tensor& depths, const at::Tensor& tile_offsets,
                                          const at::Tensor& flat_ids, int64_t width, int64_t height,
                                          int64_t tile_size) {
  check_raster_inputs(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, width, height, tile_size);
  TORCH_CHECK(means2d.device().is_cpu(), "rasterize cpu kernel got a ", means2d.device(), " tensor");
  const Grid g(width, height, tile_size);
  auto opts = means2d.options();
  auto color = at::empty({height, width, colors.size(1)}, opts);
  auto depth = at::empty({height, width}, opts);
  auto alpha = at::empty({height, width}, opts);
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "rasterize_forward_cpu", [&] {
    forward_impl<scalar_t>(means2d, conics, opacities, colors, depths, tile_offsets, flat_ids, g, color, depth,
                           alpha);
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
  const int64_t N = means2d.size(0), C = colors.size(1);
  TORCH_CHECK(grad_color.sizes() == color.sizes() && grad_depth.sizes() == depth.sizes() &&
                  grad_alpha.sizes() == alpha.sizes() && color.size(0) == height && color.size(1) == width,
              "rasterize backward: gradients do not match the outputs");
  for (const auto* t : {&grad_color, &grad_depth, &grad_alpha, &color, &depth, &alpha})
    TORCH_CHECK(t->is_contiguous() && t->scalar_type() == means2d.scalar_type(),
                "rasterize backward: outputs and gradients must be contiguous with the parameters' dtype");
  const Grid g(width, height, tile_size);
  const int64_t threads = at::get_num_threads();
  auto buffers = at::zeros({threads, N, 7 + C}, means2d.options().dtype(at::kDouble));
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "rasterize_backward_cpu", [&] {
    backward_impl<scalar_t>(grad_color, grad_depth, grad_alpha, means2d, conics, opacities, colors, depths,
                            tile_offsets, flat_ids, g, color, depth, alpha, buffers);
  });
  auto total = buffers.sum(0).to(means2d.scalar_type());
  return {total.slice(1, 0, 2).contiguous(), total.slice(1, 2, 5).contiguous(), total.select(1, 5).contiguous(),
          total.slice(1, 7, 7 + C).contiguous(), total.select(1, 6).contiguous()};
}

}  // namespace cpu
}  // namespace mmbokeh
