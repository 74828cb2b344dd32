// Linear-time splat_bokeh on the GPU: the soft disc without occlusion, and the layered occlusion mode (both kernels).
//
// One thread per source scatters its core spans (+v / -v into a row difference buffer) and its band (or, for the
// gaussian, its window) with atomics; one thread per target row then takes the row's prefix sums, applies the layer's
// gate and adds into the float64 accumulator, clearing the buffers. The layered mode runs this once per non-empty
// depth layer (sources sorted by layer on the device, one host sync for the layer list). The backward pass gathers
// per source (no atomics) from the gated row prefix sums of (grad / W, Q); with layers it scatters each layer again
// to differentiate its gate at the targets. The per-source and per-row code is in ../common/splat_linear.h, shared
// with the host emulation that tests it without a GPU (tests/ops/test_cuda_emulated.py).
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/unique_consecutive.h>
#include <ATen/ops/zeros.h>

#include <vector>

#include "../common/ops.h"
#include "../common/splat_layered.h"
#include "../common/splat_linear.h"
#include "cuda_utils.cuh"

namespace mmbokeh {
namespace cuda {
namespace {

using linear::Dims;

// Sources: all pixels of the batch (idx == nullptr, n = B H W) or the flat indices b H W + p in idx[0 .. n).
template <typename scalar_t, typename acc_t>
__global__ void scatter_kernel(const scalar_t* __restrict__ img, const scalar_t* __restrict__ def, Dims s,
                               const int64_t* __restrict__ idx, int64_t n, int kernel, acc_t* diff, acc_t* direct) {
  const int64_t HW = s.H * s.W;
  MMB_CUDA_LOOP(i, n) {
    const int64_t g = idx ? idx[i] : i;
    const int64_t b = g / HW, p = g % HW;
    if (kernel == kSoftDisc)
      linear::disc_scatter<scalar_t, acc_t, linear::DeviceAdd>(img, def, s, b, p / s.W, p % s.W, diff, direct);
    else
      linear::gauss_scatter<scalar_t, acc_t, linear::DeviceAdd>(img, def, s, b, p / s.W, p % s.W, direct);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void composite_kernel(const scalar_t* __restrict__ def, Dims s, bool gated, double centre, double margin,
                                 double sharp, acc_t* diff, acc_t* direct, double* num) {
  MMB_CUDA_LOOP(row, s.B * s.H) {
    linear::composite_row(def, s, row / s.H, row % s.H, gated, centre, margin, sharp, diff, direct, num);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void composite_backward_kernel(const scalar_t* __restrict__ def, Dims s, bool gated, double centre,
                                          double margin, double sharp, acc_t* diff, acc_t* direct,
                                          const double* __restrict__ pq, acc_t* gq, double* pre, double* gdt) {
  MMB_CUDA_LOOP(row, s.B * s.H) {
    linear::composite_row_backward(def, s, row / s.H, row % s.H, gated, centre, margin, sharp, diff, direct, pq, gq,
                                   pre, gdt);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void gather_kernel(const scalar_t* __restrict__ img, const scalar_t* __restrict__ def, Dims s,
                              const int64_t* __restrict__ idx, int64_t n, int kernel, const acc_t* __restrict__ gq,
                              const double* __restrict__ pre, scalar_t* g_img, scalar_t* g_def) {
  const int64_t HW = s.H * s.W;
  MMB_CUDA_LOOP(i, n) {
    const int64_t g = idx ? idx[i] : i;
    const int64_t b = g / HW, p = g % HW;
    if (kernel == kSoftDisc)
      linear::disc_gather(img, def, s, b, p / s.W, p % s.W, gq, pre, g_img, g_def);
    else
      linear::gauss_gather(img, def, s, b, p / s.W, p % s.W, gq, g_img, g_def);
  }
}

template <typename scalar_t>
__global__ void finalize_kernel(const double* __restrict__ num, scalar_t* __restrict__ out,
                                scalar_t* __restrict__ wsum, Dims s) {
  const int64_t HW = s.H * s.W, nc = s.C + 1;
  MMB_CUDA_LOOP(i, s.B * HW) {
    const int64_t b = i / HW, px = i % HW;
    const double wt = num[i * nc + s.C];
    for (int64_t c = 0; c < s.C; ++c) out[(b * s.C + c) * HW + px] = static_cast<scalar_t>(num[i * nc + c] / wt);
    wsum[i] = static_cast<scalar_t>(wt);
  }
}

// pq[t] = (grad_c / W, c < C; sum_c grad_c out_c / W)
template <typename scalar_t>
__global__ void pq_kernel(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ out,
                          const scalar_t* __restrict__ wsum, double* __restrict__ pq, Dims s) {
  const int64_t HW = s.H * s.W, nc = s.C + 1;
  MMB_CUDA_LOOP(i, s.B * HW) {
    const int64_t b = i / HW, px = i % HW;
    const double inv_w = 1.0 / static_cast<double>(wsum[i]);
    double q = 0.0;
    for (int64_t c = 0; c < s.C; ++c) {
      const double g = static_cast<double>(grad[(b * s.C + c) * HW + px]) * inv_w;
      pq[i * nc + c] = g;
      q += g * static_cast<double>(out[(b * s.C + c) * HW + px]);
    }
    pq[i * nc + s.C] = q;
  }
}

template <typename scalar_t>
__global__ void add_kernel(const double* __restrict__ src, scalar_t* __restrict__ dst, int64_t n) {
  MMB_CUDA_LOOP(i, n) { dst[i] = static_cast<scalar_t>(static_cast<double>(dst[i]) + src[i]); }
}

// Sources grouped by layer: order[start[j] .. start[j + 1]) are the flat indices of the pixels of layer id[j].
struct Groups {
  at::Tensor order;
  std::vector<int64_t> start, id;
};

Groups group_layers(const at::Tensor& layer) {
  const auto sorted = at::sort(layer.reshape({-1}), /*stable=*/true, /*dim=*/0, /*descending=*/false);
  const auto unique = at::unique_consecutive(std::get<0>(sorted), /*return_inverse=*/false, /*return_counts=*/true);
  const at::Tensor ids = std::get<0>(unique).to(at::kLong).cpu(), counts = std::get<2>(unique).to(at::kLong).cpu();
  Groups g;
  g.order = std::get<1>(sorted).contiguous();
  g.start.push_back(0);
  for (int64_t j = 0; j < ids.numel(); ++j) {
    g.id.push_back(ids.data_ptr<int64_t>()[j]);
    g.start.push_back(g.start.back() + counts.data_ptr<int64_t>()[j]);
  }
  return g;
}

Dims dims_of(const at::Tensor& image) { return {image.size(0), image.size(1), image.size(2), image.size(3)}; }

// Forward of the soft disc without occlusion (layer undefined) or of the layered mode.
std::vector<at::Tensor> forward(const at::Tensor& image, const at::Tensor& defocus, const at::Tensor& layer,
                                int kernel, double layer_width, double margin, double sharpness) {
  const c10::cuda::CUDAGuard guard(image.device());
  const Dims s = dims_of(image);
  const int64_t nc = s.C + 1, n = s.B * s.H * s.W;
  const bool spans = kernel == kSoftDisc;
  auto diff = at::zeros({spans ? s.B : 0, s.H, s.W + 1, nc}, image.options());
  auto direct = at::zeros({s.B, s.H, s.W, nc}, image.options());
  auto num = at::zeros({s.B, s.H, s.W, nc}, image.options().dtype(at::kDouble));
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(defocus);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  Groups groups;
  if (layer.defined()) groups = group_layers(layer);
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_linear_forward_cuda", [&] {
    const scalar_t* img = image.data_ptr<scalar_t>();
    const scalar_t* def = defocus.data_ptr<scalar_t>();
    scalar_t* dif = spans ? diff.data_ptr<scalar_t>() : nullptr;
    scalar_t* dir = direct.data_ptr<scalar_t>();
    double* acc = num.data_ptr<double>();
    auto pass = [&](const int64_t* idx, int64_t count, bool gated, double centre) {
      scatter_kernel<scalar_t, scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(img, def, s, idx, count, kernel,
                                                                                     dif, dir);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      composite_kernel<scalar_t, scalar_t><<<blocks_for(s.B * s.H), kThreads, 0, stream>>>(
          def, s, gated, centre, margin, sharpness, dif, dir, acc);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    };
    if (!layer.defined()) {
      pass(nullptr, n, false, 0.0);
    } else {
      const int64_t* order = groups.order.data_ptr<int64_t>();
      for (size_t j = 0; j < groups.id.size(); ++j)
        pass(order + groups.start[j], groups.start[j + 1] - groups.start[j], true,
             (static_cast<double>(groups.id[j]) + 0.5) * layer_width);
    }
    finalize_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(acc, out.data_ptr<scalar_t>(),
                                                                       wsum.data_ptr<scalar_t>(), s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, wsum};
}

std::vector<at::Tensor> backward(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus,
                                 const at::Tensor& layer, const at::Tensor& out, const at::Tensor& wsum, int kernel,
                                 double layer_width, double margin, double sharpness) {
  const c10::cuda::CUDAGuard guard(image.device());
  const Dims s = dims_of(image);
  const int64_t nc = s.C + 1, n = s.B * s.H * s.W;
  const bool disc = kernel == kSoftDisc, spans = disc && layer.defined();  // without layers nothing is scattered
  auto pq = at::empty({s.B, s.H, s.W, nc}, image.options().dtype(at::kDouble));
  auto diff = at::zeros({spans ? s.B : 0, s.H, s.W + 1, nc}, image.options());
  auto direct = at::zeros({s.B, s.H, s.W, nc}, image.options());
  auto gq = at::empty({s.B, s.H, s.W, nc}, image.options());
  auto pre = at::empty({disc ? s.B : 0, s.H, s.W + 1, nc}, pq.options());
  auto gdt = at::zeros({s.B, s.H, s.W}, pq.options());
  auto g_img = at::empty_like(image);
  auto g_def = at::empty_like(defocus);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  Groups groups;
  if (layer.defined()) groups = group_layers(layer);
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_linear_backward_cuda", [&] {
    const scalar_t* img = image.data_ptr<scalar_t>();
    const scalar_t* def = defocus.data_ptr<scalar_t>();
    scalar_t* dif = spans ? diff.data_ptr<scalar_t>() : nullptr;
    scalar_t* dir = direct.data_ptr<scalar_t>();
    scalar_t* gqp = gq.data_ptr<scalar_t>();
    double* prep = disc ? pre.data_ptr<double>() : nullptr;
    pq_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(grad_out.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                                                 wsum.data_ptr<scalar_t>(), pq.data_ptr<double>(), s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    auto pass = [&](const int64_t* idx, int64_t count, bool gated, double centre) {
      if (gated) {  // the layer's own value at the targets, to differentiate its gate
        scatter_kernel<scalar_t, scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(img, def, s, idx, count,
                                                                                       kernel, dif, dir);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      composite_backward_kernel<scalar_t, scalar_t><<<blocks_for(s.B * s.H), kThreads, 0, stream>>>(
          def, s, gated, centre, margin, sharpness, dif, dir, pq.data_ptr<double>(), gqp, prep,
          gdt.data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      gather_kernel<scalar_t, scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(
          img, def, s, idx, count, kernel, gqp, prep, g_img.data_ptr<scalar_t>(), g_def.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    };
    if (!layer.defined()) {
      pass(nullptr, n, false, 0.0);
    } else {
      const int64_t* order = groups.order.data_ptr<int64_t>();
      for (size_t j = 0; j < groups.id.size(); ++j)
        pass(order + groups.start[j], groups.start[j + 1] - groups.start[j], true,
             (static_cast<double>(groups.id[j]) + 0.5) * layer_width);
      add_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(gdt.data_ptr<double>(),
                                                                   g_def.data_ptr<scalar_t>(), n);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {g_img, g_def};
}

}  // namespace

std::vector<at::Tensor> splat_disc_linear_forward(const at::Tensor& image, const at::Tensor& defocus) {
  return forward(image, defocus, at::Tensor(), kSoftDisc, 1.0, 0.0, 1.0);
}

std::vector<at::Tensor> splat_disc_linear_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                                   const at::Tensor& defocus, const at::Tensor& out,
                                                   const at::Tensor& wsum) {
  return backward(grad_out, image, defocus, at::Tensor(), out, wsum, kSoftDisc, 1.0, 0.0, 1.0);
}

std::vector<at::Tensor> splat_bokeh_layered_forward(const at::Tensor& image, const at::Tensor& defocus,
                                                    const at::Tensor& layer, int64_t kernel, double layer_width,
                                                    double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  check_layered_inputs(defocus, layer, layer_width, sharpness);
  TORCH_CHECK(image.is_cuda(), "splat_bokeh cuda kernel got a ", image.device(), " tensor");
  return forward(image, defocus, layer, static_cast<int>(kernel), layer_width, margin, sharpness);
}

std::vector<at::Tensor> splat_bokeh_layered_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                                     const at::Tensor& defocus, const at::Tensor& layer,
                                                     const at::Tensor& out, const at::Tensor& wsum, int64_t kernel,
                                                     double layer_width, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  check_layered_inputs(defocus, layer, layer_width, sharpness);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == defocus.sizes(),
              "splat_bokeh backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous() && grad_out.is_cuda(),
              "grad_out must be a contiguous CUDA tensor with the image dtype");
  return backward(grad_out, image, defocus, layer, out, wsum, static_cast<int>(kernel), layer_width, margin,
                  sharpness);
}

}  // namespace cuda
}  // namespace mmbokeh
