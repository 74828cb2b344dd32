// Fast CPU path of splat_bokeh for the soft disc without occlusion: cost linear in the radius.
//
// A source of radius r, R = floor(r), covers |dx|,|dy| <= R + 1 (BokehMe's window). Its weight is split as
//   core  rho < R - 1.5          constant 1 / (r^2 + 0.2): one span per row into a difference buffer, recovered by
//                                a prefix sum along the row (r - rho > 1.5, so the tanh edge is within 6.1e-6 of 1);
//   band  R - 1.5 <= rho <= R + 2.5  exact: (1 / (r^2 + 0.2)) / (1 + F exp(-8 (r - R))), F = exp(8 (rho - R));
//   tail  rho > R + 2.5          (rho - r > 1.5) below 6.1e-6 of the core weight, dropped.
// The split depends on R only, so the output is smooth in r between integers (where the window itself jumps).
// The band of every R in use is precomputed once per call as a stencil (offsets and F), so a source costs
// 2R + 3 span writes plus ~7 pi R band pixels whose weights are computed in one vectorisable loop.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "splat_common.h"

namespace mmbokeh {
namespace cpu {

// p[0..n) += w * v[0..n), with n known at compile time when N > 0 (then it vectorises across channels).
template <int N, typename T>
inline void axpy(T* __restrict p, T w, const T* __restrict v, int64_t n) {
  if (N == 4) {  // one SIMD multiply-add over (c0, c1, c2, weight)
    typedef T vec4 __attribute__((vector_size(4 * sizeof(T))));
    vec4 a, b;
    std::memcpy(&a, p, sizeof(vec4));
    std::memcpy(&b, v, sizeof(vec4));
    a += w * b;
    std::memcpy(p, &a, sizeof(vec4));
  } else if (N > 0) {
    for (int c = 0; c < N; ++c) p[c] += w * v[c];
  } else {
    for (int64_t c = 0; c < n; ++c) p[c] += w * v[c];
  }
}

// Sources are visited in column blocks of this width when discs are large (R_max >= kBlockFromRadius), so that the
// rows a block touches stay in L2; small discs are faster in plain row order.
constexpr int64_t kColumnBlock = 32;
constexpr int kBlockFromRadius = 12;

inline int64_t column_block(int max_r, int64_t W) { return max_r >= kBlockFromRadius ? kColumnBlock : W; }

// w[j] = inv_n / (1 + F[j] m), a loop the compiler vectorises.
template <typename T>
inline void band_weights(const T* F, T m, T inv_n, T* w, int64_t n) {
  for (int64_t j = 0; j < n; ++j) w[j] = inv_n / (T(1) + F[j] * m);
}

template <typename acc_t>
struct DiscStencil {
  int R = -1;
  std::vector<int32_t> core;    // per row i = dy + R + 1: largest |dx| of the core span, -1 when none
  std::vector<int32_t> dx, dy;  // band pixels, row-major
  std::vector<int64_t> off;     // dy * W + dx
  std::vector<acc_t> F;         // exp(8 (rho - R))
};

inline int64_t isqrt64(int64_t n) {
  if (n <= 0) return 0;
  int64_t s = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  while (s * s > n) --s;
  while ((s + 1) * (s + 1) <= n) ++s;
  return s;
}

template <typename acc_t>
DiscStencil<acc_t> make_stencil(int R, int64_t W) {
  DiscStencil<acc_t> s;
  s.R = R;
  s.core.assign(2 * R + 3, -1);
  // rho < R - 1.5  <=>  4 rho^2 < (2R - 3)^2;  rho <= R + 2.5  <=>  4 rho^2 <= (2R + 5)^2 (all integers)
  const int64_t inner4 = static_cast<int64_t>(2 * R - 3) * (2 * R - 3);
  const int64_t outer4 = static_cast<int64_t>(2 * R + 5) * (2 * R + 5);
  for (int64_t dy = -(R + 1); dy <= R + 1; ++dy) {
    const int64_t dy2 = dy * dy;
    // largest a with 4 (a^2 + dy^2) < inner4, i.e. a^2 <= (inner4 - 1) / 4 - dy^2
    const int64_t a = (R >= 2 && 4 * dy2 < inner4) ? isqrt64((inner4 - 1) / 4 - dy2) : -1;
    s.core[dy + R + 1] = static_cast<int32_t>(a);
    for (int64_t dx = -(R + 1); dx <= R + 1; ++dx) {
      const int64_t n = dx * dx + dy2;
      if (4 * n > outer4 || (dx <= a && dx >= -a)) continue;
      s.dx.push_back(static_cast<int32_t>(dx));
      s.dy.push_back(static_cast<int32_t>(dy));
      s.off.push_back(dy * W + dx);
      s.F.push_back(static_cast<acc_t>(std::exp(8.0 * (std::sqrt(static_cast<double>(n)) - R))));
    }
  }
  return s;
}

// Stencils for every R = floor(|defocus|) that occurs (others stay empty).
template <typename scalar_t, typename acc_t>
std::vector<DiscStencil<acc_t>> make_stencils(const scalar_t* def, int64_t n, int max_r, int64_t W) {
  std::vector<char> used(max_r + 1, 0);
  for (int64_t i = 0; i < n; ++i) used[static_cast<int>(std::floor(std::abs(def[i])))] = 1;
  std::vector<DiscStencil<acc_t>> st(max_r + 1);
  at::parallel_for(0, max_r + 1, 1, [&](int64_t b, int64_t e) {
    for (int64_t R = b; R < e; ++R)
      if (used[R]) st[R] = make_stencil<acc_t>(static_cast<int>(R), W);
  });
  return st;
}

// Scatter of one source pixel (soft disc, fast path): core spans into the row difference buffer ``diff``
// [H, W+1, nc] (float64), band pixels into ``direct`` [H, W, nc].
template <typename scalar_t, typename acc_t, int NCT>
struct DiscScatter {
  const Image<scalar_t>& im;
  const std::vector<DiscStencil<acc_t>>& stencils;
  double* diff;
  acc_t* direct;
  int64_t nc;
  std::vector<acc_t> val, w;
  std::vector<double> vcore;

  DiscScatter(const Image<scalar_t>& im_, const std::vector<DiscStencil<acc_t>>& st, double* diff_, acc_t* direct_)
      : im(im_), stencils(st), diff(diff_), direct(direct_), nc(NCT > 0 ? NCT : im_.C + 1), val(nc), vcore(nc) {}

  inline void operator()(int64_t y0, int64_t x0) {
    const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = NCT > 0 ? NCT : this->nc;
    const acc_t r = static_cast<acc_t>(std::abs(im.def[y0 * W + x0]));
    const int R = static_cast<int>(std::floor(r));
    const DiscStencil<acc_t>& s = stencils[R];
    const acc_t inv_n = acc_t(1) / (r * r + acc_t(kSoftDiscReg));
    const acc_t m = std::exp(acc_t(-8) * (r - static_cast<acc_t>(R)));
    for (int64_t c = 0; c < C; ++c) val[c] = static_cast<acc_t>(im.img[c * HW + y0 * W + x0]);
    val[C] = acc_t(1);
    for (int64_t c = 0; c < nc; ++c) vcore[c] = static_cast<double>(inv_n) * static_cast<double>(val[c]);
    // core spans (none below R = 2)
    for (int64_t i = R >= 2 ? 0 : 2 * R + 3; i < 2 * R + 3; ++i) {
      const int64_t a = s.core[i], y = y0 + i - R - 1;
      if (a < 0 || y < 0 || y >= H) continue;
      const int64_t xl = std::max<int64_t>(x0 - a, 0), xr = std::min<int64_t>(x0 + a, W - 1);
      axpy<NCT>(diff + (y * (W + 1) + xl) * nc, 1.0, vcore.data(), nc);
      axpy<NCT>(diff + (y * (W + 1) + xr + 1) * nc, -1.0, vcore.data(), nc);
    }
    // band
    const int64_t nb = static_cast<int64_t>(s.F.size());
    if (static_cast<int64_t>(w.size()) < nb) w.resize(nb);
    const acc_t* F = s.F.data();
    acc_t* wp = w.data();
    band_weights(F, m, inv_n, wp, nb);
    acc_t* base = direct + (y0 * W + x0) * nc;
    const acc_t* vp = val.data();
    if (x0 > R && x0 + R + 1 < W && y0 > R && y0 + R + 1 < H) {
      const int64_t* off = s.off.data();
      for (int64_t j = 0; j < nb; ++j) axpy<NCT>(base + off[j] * nc, wp[j], vp, nc);
    } else {
      for (int64_t j = 0; j < nb; ++j) {
        const int64_t x = x0 + s.dx[j], y = y0 + s.dy[j];
        if (x < 0 || x >= W || y < 0 || y >= H) continue;
        axpy<NCT>(base + s.off[j] * nc, wp[j], vp, nc);
      }
    }
  }
};

template <typename scalar_t, typename acc_t, int NCT>
void disc_forward_rows(const Image<scalar_t>& im, const std::vector<DiscStencil<acc_t>>& stencils, double* diff,
                       acc_t* direct, int64_t y_begin, int64_t y_end, int64_t block) {
  DiscScatter<scalar_t, acc_t, NCT> scatter(im, stencils, diff, direct);
  for (int64_t xb = 0; xb < im.W; xb += block) {
    const int64_t xe = std::min(im.W, xb + block);
    for (int64_t y0 = y_begin; y0 < y_end; ++y0)
      for (int64_t x0 = xb; x0 < xe; ++x0) scatter(y0, x0);
  }  // column blocks
}

// Gradients of one source pixel (soft disc, fast path): gather of P = grad / W (channels < C) and Q = sum grad out / W
// (channel C) over the source's disc, the core from row prefix sums ``prefix`` [H, W+1, nc] of (P, Q), the band from
// ``pq`` [H, W, nc]. Writes the image gradient and the defocus gradient through r (sign of D included).
template <typename scalar_t, typename acc_t, int NCT>
struct DiscGather {
  const Image<scalar_t>& im;
  const std::vector<DiscStencil<acc_t>>& stencils;
  const acc_t* pq;
  const double* prefix;
  scalar_t* g_img;
  scalar_t* g_def;
  int64_t nc;
  std::vector<acc_t> val, gi, w, dw;
  std::vector<double> sc;

  DiscGather(const Image<scalar_t>& im_, const std::vector<DiscStencil<acc_t>>& st, const acc_t* pq_,
             const double* prefix_, scalar_t* g_img_, scalar_t* g_def_)
      : im(im_), stencils(st), pq(pq_), prefix(prefix_), g_img(g_img_), g_def(g_def_),
        nc(NCT > 0 ? NCT : im_.C + 1), val(nc), gi(nc), sc(nc) {}

  inline void operator()(int64_t y0, int64_t x0) {
    const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = NCT > 0 ? NCT : this->nc;
    const scalar_t D = im.def[y0 * W + x0];
    const acc_t r = static_cast<acc_t>(std::abs(D));
    const int R = static_cast<int>(std::floor(r));
    const DiscStencil<acc_t>& s = stencils[R];
    const acc_t inv_n = acc_t(1) / (r * r + acc_t(kSoftDiscReg));
    const acc_t dinv_n = acc_t(-2) * r * inv_n * inv_n;
    const acc_t m = std::exp(acc_t(-8) * (r - static_cast<acc_t>(R)));
    for (int64_t c = 0; c < C; ++c) val[c] = static_cast<acc_t>(im.img[c * HW + y0 * W + x0]);
    val[C] = acc_t(-1);  // so that sum_c val[c] P[c] = I . P - Q
    std::fill(sc.begin(), sc.end(), 0.0);
    std::fill(gi.begin(), gi.end(), acc_t(0));
    for (int64_t i = 0; i < 2 * R + 3; ++i) {
      const int64_t a = s.core[i], y = y0 + i - R - 1;
      if (a < 0 || y < 0 || y >= H) continue;
      const int64_t xl = std::max<int64_t>(x0 - a, 0), xr = std::min<int64_t>(x0 + a, W - 1);
      const double* p = prefix + (y * (W + 1) + xl) * nc;
      const double* q = prefix + (y * (W + 1) + xr + 1) * nc;
      for (int64_t c = 0; c < nc; ++c) sc[c] += q[c] - p[c];
    }
    const int64_t nb = static_cast<int64_t>(s.F.size());
    if (static_cast<int64_t>(w.size()) < nb) {
      w.resize(nb);
      dw.resize(nb);
    }
    const acc_t* F = s.F.data();
    acc_t* wp = w.data();
    acc_t* dwp = dw.data();
    for (int64_t j = 0; j < nb; ++j) {
      const acc_t e = acc_t(1) / (acc_t(1) + F[j] * m);
      wp[j] = e * inv_n;
      dwp[j] = acc_t(8) * e * (acc_t(1) - e) * inv_n + e * dinv_n;
    }
    acc_t gr = 0;
    const acc_t* base = pq + (y0 * W + x0) * nc;
    const bool interior = x0 > R && x0 + R + 1 < W && y0 > R && y0 + R + 1 < H;
    for (int64_t j = 0; j < nb; ++j) {
      if (!interior) {
        const int64_t x = x0 + s.dx[j], y = y0 + s.dy[j];
        if (x < 0 || x >= W || y < 0 || y >= H) continue;
      }
      const acc_t* p = base + s.off[j] * nc;
      acc_t mm = 0;
      for (int64_t c = 0; c < nc; ++c) {
        gi[c] += wp[j] * p[c];
        mm += val[c] * p[c];
      }
      gr += dwp[j] * mm;
    }
    double core_m = 0;
    for (int64_t c = 0; c < nc; ++c) core_m += static_cast<double>(val[c]) * sc[c];
    const double grad_r = static_cast<double>(gr) + static_cast<double>(dinv_n) * core_m;
    for (int64_t c = 0; c < C; ++c)
      g_img[c * HW + y0 * W + x0] =
          static_cast<scalar_t>(static_cast<double>(gi[c]) + static_cast<double>(inv_n) * sc[c]);
    g_def[y0 * W + x0] = static_cast<scalar_t>(D > 0 ? grad_r : (D < 0 ? -grad_r : 0.0));
  }
};

// Gradients of one row range of sources (see DiscGather).
template <typename scalar_t, typename acc_t, int NCT>
void disc_backward_rows(const Image<scalar_t>& im, const std::vector<DiscStencil<acc_t>>& stencils, const acc_t* pq,
                        const double* prefix, scalar_t* g_img, scalar_t* g_def, int64_t y_begin, int64_t y_end,
                        int64_t block) {
  DiscGather<scalar_t, acc_t, NCT> gather(im, stencils, pq, prefix, g_img, g_def);
  for (int64_t xb = 0; xb < im.W; xb += block) {
    const int64_t xe = std::min(im.W, xb + block);
    for (int64_t y0 = y_begin; y0 < y_end; ++y0)
      for (int64_t x0 = xb; x0 < xe; ++x0) gather(y0, x0);
  }  // column blocks
}

}  // namespace cpu
}  // namespace mmbokeh
