// CUDA kernels of splat_bokeh: one thread per source pixel, exact weights over the whole window (like BokehMe's
// renderer), float64 atomics for the scatter; the backward pass gathers per source and, with occlusion, scatters
// the gate's gradient to the targets. Used for the gaussian kernel and the exact occlusion gate; the soft disc
// without occlusion takes the linear-time path of splat_linear.cu.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>

#include "../common/ops.h"
#include "../common/splat_layered.h"
#include "../common/splat_math.h"
#include "cuda_utils.cuh"

namespace mmbokeh {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void splat_forward_kernel(const scalar_t* __restrict__ img, const scalar_t* __restrict__ def,
                                     double* __restrict__ acc, int64_t B, int64_t C, int64_t H, int64_t W,
                                     int kernel, bool occlusion, scalar_t margin, scalar_t sharp) {
  const int64_t HW = H * W, nc = C + 1;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, px = i % HW, y0 = px / W, x0 = px % W;
    const scalar_t D = def[i];
    const scalar_t r = D < scalar_t(0) ? -D : D;
    const int64_t h = splat_half_window(r, kernel);
    const scalar_t* src = img + b * C * HW + px;
    for (int64_t dy = (-h > -y0 ? -h : -y0); dy <= (h < H - 1 - y0 ? h : H - 1 - y0); ++dy) {
      for (int64_t dx = (-h > -x0 ? -h : -x0); dx <= (h < W - 1 - x0 ? h : W - 1 - x0); ++dx) {
        scalar_t w, dw;
        splat_weight(kernel, r, static_cast<scalar_t>(dx * dx + dy * dy), w, dw);
        const int64_t t = b * HW + (y0 + dy) * W + x0 + dx;
        if (occlusion) {
          scalar_t g, dg;
          occlusion_gate(D, def[t], margin, sharp, g, dg);
          w *= g;
        }
        double* out = acc + t * nc;
        for (int64_t c = 0; c < C; ++c) atomicAdd(out + c, static_cast<double>(w * src[c * HW]));
        atomicAdd(out + C, static_cast<double>(w));
      }
    }
  }
}

template <typename scalar_t>
__global__ void splat_finalize_kernel(const double* __restrict__ acc, scalar_t* __restrict__ out,
                                      scalar_t* __restrict__ wsum, int64_t B, int64_t C, int64_t HW) {
  const int64_t nc = C + 1;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, px = i % HW;
    const double wt = acc[i * nc + C];
    for (int64_t c = 0; c < C; ++c) out[(b * C + c) * HW + px] = static_cast<scalar_t>(acc[i * nc + c] / wt);
    wsum[i] = static_cast<scalar_t>(wt);
  }
}

// pq[t] = (grad_c / W, c < C; sum_c grad_c out_c / W)
template <typename scalar_t>
__global__ void splat_pq_kernel(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ out,
                                const scalar_t* __restrict__ wsum, double* __restrict__ pq, int64_t B, int64_t C,
                                int64_t HW) {
  const int64_t nc = C + 1;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, px = i % HW;
    const double inv_w = 1.0 / static_cast<double>(wsum[i]);
    double q = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(grad[(b * C + c) * HW + px]) * inv_w;
      pq[i * nc + c] = g;
      q += g * static_cast<double>(out[(b * C + c) * HW + px]);
    }
    pq[i * nc + C] = q;
  }
}

template <typename scalar_t>
__global__ void splat_backward_kernel(const scalar_t* __restrict__ img, const scalar_t* __restrict__ def,
                                      const double* __restrict__ pq, scalar_t* __restrict__ g_img,
                                      double* __restrict__ g_def, int64_t B, int64_t C, int64_t H, int64_t W,
                                      int kernel, bool occlusion, scalar_t margin, scalar_t sharp) {
  const int64_t HW = H * W, nc = C + 1;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, px = i % HW, y0 = px / W, x0 = px % W;
    const scalar_t D = def[i];
    const scalar_t r = D < scalar_t(0) ? -D : D;
    const int64_t h = splat_half_window(r, kernel);
    const scalar_t* src = img + b * C * HW + px;
    double gr = 0.0, gs = 0.0;
    for (int64_t c = 0; c < C; ++c) g_img[(b * C + c) * HW + px] = scalar_t(0);
    for (int64_t dy = (-h > -y0 ? -h : -y0); dy <= (h < H - 1 - y0 ? h : H - 1 - y0); ++dy) {
      for (int64_t dx = (-h > -x0 ? -h : -x0); dx <= (h < W - 1 - x0 ? h : W - 1 - x0); ++dx) {
        scalar_t k, dk;
        splat_weight(kernel, r, static_cast<scalar_t>(dx * dx + dy * dy), k, dk);
        const int64_t t = b * HW + (y0 + dy) * W + x0 + dx;
        const double* p = pq + t * nc;
        double m = -p[C];
        for (int64_t c = 0; c < C; ++c) m += static_cast<double>(src[c * HW]) * p[c];
        double w = static_cast<double>(k);
        if (occlusion) {
          scalar_t g, dg;
          occlusion_gate(D, def[t], margin, sharp, g, dg);
          w *= static_cast<double>(g);
          gr += static_cast<double>(dk * g) * m;
          const double gate = static_cast<double>(k * dg) * m;
          gs += gate;
          atomicAdd(g_def + t, -gate);
        } else {
          gr += static_cast<double>(dk) * m;
        }
        for (int64_t c = 0; c < C; ++c) g_img[(b * C + c) * HW + px] += static_cast<scalar_t>(w * p[c]);
      }
    }
    atomicAdd(g_def + i, (D > scalar_t(0) ? gr : (D < scalar_t(0) ? -gr : 0.0)) + gs);
  }
}

template <typename scalar_t>
__global__ void copy_kernel(const double* __restrict__ src, scalar_t* __restrict__ dst, int64_t n) {
  MMB_CUDA_LOOP(i, n) { dst[i] = static_cast<scalar_t>(src[i]); }
}

}  // namespace

std::vector<at::Tensor> splat_bokeh_forward(const at::Tensor& image, const at::Tensor& defocus, int64_t kernel,
                                            bool occlusion, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  TORCH_CHECK(image.is_cuda(), "splat_bokeh cuda kernel got a ", image.device(), " tensor");
  if (kernel == kSoftDisc && !occlusion) return splat_disc_linear_forward(image, defocus);
  const c10::cuda::CUDAGuard guard(image.device());
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
  auto acc = at::zeros({B, H, W, C + 1}, image.options().dtype(at::kDouble));
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(defocus);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_forward_cuda", [&] {
    splat_forward_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        image.data_ptr<scalar_t>(), defocus.data_ptr<scalar_t>(), acc.data_ptr<double>(), B, C, H, W,
        static_cast<int>(kernel), occlusion, static_cast<scalar_t>(margin), static_cast<scalar_t>(sharpness));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    splat_finalize_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        acc.data_ptr<double>(), out.data_ptr<scalar_t>(), wsum.data_ptr<scalar_t>(), B, C, H * W);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, wsum};
}

std::vector<at::Tensor> splat_bokeh_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                             const at::Tensor& defocus, const at::Tensor& out, const at::Tensor& wsum,
                                             int64_t kernel, bool occlusion, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == defocus.sizes(),
              "splat_bokeh backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous() && grad_out.is_cuda(),
              "grad_out must be a contiguous CUDA tensor with the image dtype");
  if (kernel == kSoftDisc && !occlusion) return splat_disc_linear_backward(grad_out, image, defocus, out, wsum);
  const c10::cuda::CUDAGuard guard(image.device());
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
  auto pq = at::empty({B, H, W, C + 1}, image.options().dtype(at::kDouble));
  auto g_acc = at::zeros({B, H, W}, pq.options());
  auto g_img = at::empty_like(image);
  auto g_def = at::empty_like(defocus);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_backward_cuda", [&] {
    splat_pq_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        grad_out.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), wsum.data_ptr<scalar_t>(), pq.data_ptr<double>(), B,
        C, H * W);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    splat_backward_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        image.data_ptr<scalar_t>(), defocus.data_ptr<scalar_t>(), pq.data_ptr<double>(), g_img.data_ptr<scalar_t>(),
        g_acc.data_ptr<double>(), B, C, H, W, static_cast<int>(kernel), occlusion, static_cast<scalar_t>(margin),
        static_cast<scalar_t>(sharpness));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    copy_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(g_acc.data_ptr<double>(),
                                                                          g_def.data_ptr<scalar_t>(), B * H * W);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {g_img, g_def};
}

}  // namespace cuda
}  // namespace mmbokeh
