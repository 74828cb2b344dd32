// CUDA kernels of psf_blur (Gur and Wolf's Gaussian PSF layer): one thread per pixel, gathers only.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty_like.h>

#include "../common/ops.h"
#include "../common/splat_math.h"
#include "cuda_utils.cuh"

namespace mmbokeh {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void psf_forward_kernel(const scalar_t* __restrict__ img, const scalar_t* __restrict__ cs,
                                   scalar_t* __restrict__ out, scalar_t* __restrict__ wsum, int64_t B, int64_t C,
                                   int64_t H, int64_t W, int64_t half) {
  const int64_t HW = H * W;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, p = i % HW, y = p / W, x = p % W;
    const scalar_t* c_b = cs + b * HW;
    const scalar_t* i_b = img + b * C * HW;
    if (!(c_b[p] > scalar_t(1))) {
      for (int64_t c = 0; c < C; ++c) out[(b * C + c) * HW + p] = i_b[c * HW + p];
      wsum[i] = scalar_t(0);
      continue;
    }
    double wt = 0.0;
    for (int64_t c = 0; c < C; ++c) out[(b * C + c) * HW + p] = scalar_t(0);
    // two passes over the window keep the per-thread state small for any C
    for (int64_t yy = (y - half > 0 ? y - half : 0); yy <= (y + half < H - 1 ? y + half : H - 1); ++yy)
      for (int64_t xx = (x - half > 0 ? x - half : 0); xx <= (x + half < W - 1 ? x + half : W - 1); ++xx) {
        const scalar_t cq = c_b[yy * W + xx];
        if (cq > scalar_t(1))
          wt += static_cast<double>(psf_weight(cq, static_cast<scalar_t>((yy - y) * (yy - y) + (xx - x) * (xx - x))));
      }
    for (int64_t c = 0; c < C; ++c) {
      double acc = 0.0;
      for (int64_t yy = (y - half > 0 ? y - half : 0); yy <= (y + half < H - 1 ? y + half : H - 1); ++yy)
        for (int64_t xx = (x - half > 0 ? x - half : 0); xx <= (x + half < W - 1 ? x + half : W - 1); ++xx) {
          const scalar_t cq = c_b[yy * W + xx];
          if (!(cq > scalar_t(1))) continue;
          const scalar_t g = psf_weight(cq, static_cast<scalar_t>((yy - y) * (yy - y) + (xx - x) * (xx - x)));
          acc += static_cast<double>(g) * static_cast<double>(i_b[c * HW + yy * W + xx]);
        }
      out[(b * C + c) * HW + p] = static_cast<scalar_t>(acc / wt);
    }
    wsum[i] = static_cast<scalar_t>(wt);
  }
}

template <typename scalar_t>
__global__ void psf_backward_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ img,
                                    const scalar_t* __restrict__ cs, const scalar_t* __restrict__ out,
                                    const scalar_t* __restrict__ ws, scalar_t* __restrict__ gi,
                                    scalar_t* __restrict__ gs, int64_t B, int64_t C, int64_t H, int64_t W,
                                    int64_t half) {
  const int64_t HW = H * W;
  MMB_CUDA_LOOP(i, B * HW) {
    const int64_t b = i / HW, q = i % HW, y = q / W, x = q % W;
    const scalar_t* c_b = cs + b * HW;
    const scalar_t cq = c_b[q];
    if (!(cq > scalar_t(1))) {
      for (int64_t c = 0; c < C; ++c) gi[(b * C + c) * HW + q] = go[(b * C + c) * HW + q];
      gs[i] = scalar_t(0);
      continue;
    }
    double g_c = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      double acc = 0.0;
      for (int64_t yy = (y - half > 0 ? y - half : 0); yy <= (y + half < H - 1 ? y + half : H - 1); ++yy)
        for (int64_t xx = (x - half > 0 ? x - half : 0); xx <= (x + half < W - 1 ? x + half : W - 1); ++xx) {
          const int64_t p = yy * W + xx;
          if (!(c_b[p] > scalar_t(1))) continue;
          const scalar_t rho2 = static_cast<scalar_t>((yy - y) * (yy - y) + (xx - x) * (xx - x));
          const scalar_t g = psf_weight(cq, rho2);
          const double inv_w = 1.0 / static_cast<double>(ws[b * HW + p]);
          const double gp = static_cast<double>(go[(b * C + c) * HW + p]);
          acc += gp * static_cast<double>(g) * inv_w;
          g_c += gp * static_cast<double>(psf_dweight(cq, rho2, g)) * inv_w *
                 static_cast<double>(img[(b * C + c) * HW + q] - out[(b * C + c) * HW + p]);
        }
      gi[(b * C + c) * HW + q] = static_cast<scalar_t>(acc);
    }
    gs[i] = static_cast<scalar_t>(g_c);
  }
}

}  // namespace

std::vector<at::Tensor> psf_blur_forward(const at::Tensor& image, const at::Tensor& sigma, int64_t window) {
  check_psf_inputs(image, sigma, window);
  TORCH_CHECK(image.is_cuda(), "psf_blur cuda kernel got a ", image.device(), " tensor");
  const c10::cuda::CUDAGuard guard(image.device());
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(sigma);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_forward_cuda", [&] {
    psf_forward_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        image.data_ptr<scalar_t>(), sigma.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), wsum.data_ptr<scalar_t>(),
        B, C, H, W, window / 2);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, wsum};
}

std::vector<at::Tensor> psf_blur_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                          const at::Tensor& sigma, const at::Tensor& out, const at::Tensor& wsum,
                                          int64_t window) {
  check_psf_inputs(image, sigma, window);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == sigma.sizes(),
              "psf_blur backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous() && grad_out.is_cuda(),
              "grad_out must be a contiguous CUDA tensor with the image dtype");
  const c10::cuda::CUDAGuard guard(image.device());
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
  auto g_img = at::empty_like(image);
  auto g_sig = at::empty_like(sigma);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "psf_blur_backward_cuda", [&] {
    psf_backward_kernel<scalar_t><<<blocks_for(B * H * W), kThreads, 0, stream>>>(
        grad_out.data_ptr<scalar_t>(), image.data_ptr<scalar_t>(), sigma.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>(), wsum.data_ptr<scalar_t>(), g_img.data_ptr<scalar_t>(), g_sig.data_ptr<scalar_t>(), B,
        C, H, W, window / 2);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {g_img, g_sig};
}

}  // namespace cuda
}  // namespace mmbokeh
