// Helpers shared by the CPU scatter passes of splat_bokeh.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../common/disc_tables.h"
#include "../common/splat_math.h"

namespace mmbokeh {
namespace cpu {

template <typename scalar_t>
struct Image {
  const scalar_t* img;  // [C,H,W]
  const scalar_t* def;  // [H,W]
  int64_t C, H, W;
};

// Pointers to batch item b of image [B,C,H,W] and defocus [B,1,H,W].
template <typename scalar_t>
inline Image<scalar_t> image_of(const at::Tensor& image, const at::Tensor& defocus, int64_t b) {
  const int64_t C = image.size(1), H = image.size(2), W = image.size(3);
  return {image.data_ptr<scalar_t>() + b * C * H * W, defocus.data_ptr<scalar_t>() + b * H * W, C, H, W};
}

// floor of the largest |defocus|, after checking that every value is finite and at most 4096 px.
template <typename scalar_t>
inline int checked_max_radius(const at::Tensor& defocus) {
  const scalar_t* d = defocus.data_ptr<scalar_t>();
  const scalar_t m = at::parallel_reduce(
      0, defocus.numel(), 1 << 14, scalar_t(0),
      [&](int64_t b, int64_t e, scalar_t acc) {
        for (int64_t i = b; i < e; ++i) acc = std::max(acc, std::abs(d[i]));
        return acc;
      },
      [](scalar_t a, scalar_t b) { return std::max(a, b); });
  bool finite = true;
  for (int64_t i = 0; i < defocus.numel() && finite; ++i) finite = std::isfinite(static_cast<double>(d[i]));
  TORCH_CHECK(finite, "defocus contains NaN or inf");
  TORCH_CHECK(m <= scalar_t(4096), "defocus radius ", m, " px exceeds the supported 4096 px");
  return static_cast<int>(std::floor(m));
}

// Per-target grad / W (channels 0..C-1) and sum_c grad_c out_c / W (channel C): [B,H,W,C+1].
template <typename scalar_t, typename acc_t>
inline at::Tensor make_pq(const at::Tensor& grad_out, const at::Tensor& out, const at::Tensor& wsum) {
  const int64_t B = out.size(0), C = out.size(1), H = out.size(2), W = out.size(3), HW = H * W, nc = C + 1;
  at::Tensor pq = at::empty({B, H, W, nc}, out.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
  const scalar_t* g = grad_out.data_ptr<scalar_t>();
  const scalar_t* o = out.data_ptr<scalar_t>();
  const scalar_t* ws = wsum.data_ptr<scalar_t>();
  acc_t* p = pq.data_ptr<acc_t>();
  at::parallel_for(0, B * HW, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / HW, px = i % HW;
      const double inv_w = 1.0 / static_cast<double>(ws[i]);
      double q = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        const double gc = static_cast<double>(g[(b * C + c) * HW + px]) * inv_w;
        p[i * nc + c] = static_cast<acc_t>(gc);
        q += gc * static_cast<double>(o[(b * C + c) * HW + px]);
      }
      p[i * nc + C] = static_cast<acc_t>(q);
    }
  });
  return pq;
}

// Run fn(b, y_begin, y_end) over stripes of source rows such that concurrent stripes write disjoint rows:
// stripes are >= 2 * reach rows high and run in two phases (even stripes, then odd ones).
template <typename F>
void for_each_stripe(int64_t B, int64_t H, int64_t reach, const F& fn) {
  const int64_t sh = std::max<int64_t>(2 * reach, 16);
  const int64_t ns = (H + sh - 1) / sh;
  for (int64_t phase = 0; phase < 2; ++phase) {
    const int64_t per_b = (ns - phase + 1) / 2;
    if (per_b <= 0) continue;
    at::parallel_for(0, B * per_b, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / per_b, k = 2 * (task % per_b) + phase;
        fn(b, k * sh, std::min(H, (k + 1) * sh));
      }
    });
  }
}

// Per-source constants of the soft disc, for the general (window) path.
template <typename scalar_t>
struct Disc {
  scalar_t r, inv_n, dinv_n, mult[6];
  int R;
  explicit Disc(scalar_t radius) : r(radius) {
    R = static_cast<int>(std::floor(r));
    inv_n = scalar_t(1) / (r * r + scalar_t(kSoftDiscReg));
    dinv_n = scalar_t(-2) * r * inv_n * inv_n;
    for (int k = 0; k < 6; ++k) mult[k] = std::exp(scalar_t(8) * (static_cast<scalar_t>(R - 2 + k) - r));
  }
  // Edge factor s = sigmoid(8 (r - rho)) at rho^2 = n; false in the dropped tail rho > R + 3.
  bool edge(const DiscTables& t, int64_t n, scalar_t& s) const {
    const int64_t hi = static_cast<int64_t>(R + 3) * (R + 3);
    if (n > hi) return false;
    const int64_t lo = static_cast<int64_t>(R - 2) * (R - 2);
    if (R >= 3 && n < lo) {
      s = scalar_t(1);
      return true;
    }
    s = scalar_t(1) / (scalar_t(1) + t.frac<scalar_t>()[n] * mult[t.fl[n] - R + 2]);
    return true;
  }
};

}  // namespace cpu
}  // namespace mmbokeh
