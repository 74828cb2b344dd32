// CPU entry points of splat_bokeh's layered occlusion mode (occlusion='layered'; see ../common/splat_layered.h).
//
// Per image, the sources are grouped by depth layer. Each layer is scattered on its own into the buffers of the
// plain renderer (soft disc: core spans into a row difference buffer and the band into a pixel buffer, linear in r,
// splat_disc_fast.h; gaussian: every pixel of the window) and composited into the accumulator of every target it
// reaches with the target's gate of that layer. Only the pixels a layer can reach are visited (its extent: the rows
// of its sources dilated by the window, and in each row the columns likewise), and the pass streams down the image:
// a target row is composited (and its buffers cleared) as soon as no later source of the layer can reach it, while
// the rows it reads are still in cache. The backward pass scatters each layer again, takes the gate's gradient at
// the targets and then gathers the gated (grad / W, sum grad out / W) per source as the plain backward does, with
// the same streaming. One thread renders one image (images run in parallel).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include "../common/ops.h"
#include "../common/splat_layered.h"
#include "splat_disc_fast.h"
#include "splat_general.h"

namespace mmbokeh {
namespace cpu {
namespace {

// The pixels of one image grouped by layer, in raster order within a layer.
struct LayerGroups {
  std::vector<int32_t> ys, xs;  // source coordinates
  std::vector<int64_t> start;   // layer j holds sources start[j] .. start[j + 1] - 1
  std::vector<int32_t> id;      // its layer index l
  std::vector<int64_t> reach;   // and the half size of its largest window
};

template <typename scalar_t>
LayerGroups group_layers(const Image<scalar_t>& im, const int32_t* l, int kernel) {
  const int64_t H = im.H, W = im.W, n = H * W;
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, l[i]);
    hi = std::max(hi, l[i]);
  }
  // counting sort: pos[b] = first slot of bin b = l - lo
  const size_t bins = static_cast<size_t>(static_cast<int64_t>(hi) - lo + 1);
  std::vector<int64_t> pos(bins + 1, 0);
  std::vector<scalar_t> rmax(bins, scalar_t(0));
  for (int64_t i = 0; i < n; ++i) {
    const size_t b = static_cast<size_t>(l[i] - lo);
    ++pos[b + 1];
    rmax[b] = std::max(rmax[b], std::abs(im.def[i]));
  }
  for (size_t b = 1; b <= bins; ++b) pos[b] += pos[b - 1];
  LayerGroups g;
  for (size_t b = 0; b < bins; ++b) {
    if (pos[b + 1] == pos[b]) continue;
    g.id.push_back(static_cast<int32_t>(lo + static_cast<int64_t>(b)));
    g.start.push_back(pos[b]);
    g.reach.push_back(splat_half_window(rmax[b], kernel));
  }
  g.start.push_back(n);
  g.ys.resize(n);
  g.xs.resize(n);
  for (int64_t y = 0, i = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x, ++i) {
      const int64_t k = pos[l[i] - lo]++;
      g.ys[k] = static_cast<int32_t>(y);
      g.xs[k] = static_cast<int32_t>(x);
    }
  return g;
}

// Target pixels a layer reaches, in column tiles of kTile pixels: rows y0..y1, and in row y the tiles whose bits are
// set in mask[y * words ..]: the tiles that the windows of the layer's sources within `reach` rows overlap.
constexpr int64_t kTile = 8;

struct Extent {
  int64_t y0 = 0, y1 = -1, words = 0;
  std::vector<uint64_t> mask;
  std::vector<uint64_t> row;  // scratch: the tiles of one source row
};

// Extent of layer j.
void layer_extent(const LayerGroups& g, int64_t j, int64_t H, int64_t W, Extent& e) {
  const int64_t reach = g.reach[j], begin = g.start[j], end = g.start[j + 1];
  const int64_t tiles = (W + kTile - 1) / kTile;
  e.words = (tiles + 63) / 64;
  e.y0 = std::max<int64_t>(0, g.ys[begin] - reach);
  e.y1 = std::min<int64_t>(H - 1, g.ys[end - 1] + reach);
  e.mask.assign((e.y1 - e.y0 + 1) * e.words, 0);
  e.row.assign(e.words, 0);
  for (int64_t i = begin; i < end;) {
    const int64_t y = g.ys[i];
    std::fill(e.row.begin(), e.row.end(), 0);
    for (; i < end && g.ys[i] == y;) {  // runs of sources whose windows overlap
      const int64_t xl = g.xs[i];
      int64_t xr = xl;
      for (++i; i < end && g.ys[i] == y && g.xs[i] <= xr + 2 * reach + 1; ++i) xr = g.xs[i];
      const int64_t t0 = std::max<int64_t>(0, xl - reach) / kTile, t1 = std::min<int64_t>(W - 1, xr + reach) / kTile;
      for (int64_t t = t0; t <= t1; ++t) e.row[t >> 6] |= uint64_t(1) << (t & 63);
    }
    for (int64_t yy = std::max<int64_t>(e.y0, y - reach); yy <= std::min<int64_t>(e.y1, y + reach); ++yy) {
      uint64_t* m = e.mask.data() + (yy - e.y0) * e.words;
      for (int64_t w = 0; w < e.words; ++w) m[w] |= e.row[w];
    }
  }
}

// Call fn(lo, hi) for each run of consecutive tiles of row y of the extent, in pixels [lo, hi] (hi < W).
template <typename F>
inline void for_each_run(const Extent& e, int64_t y, int64_t W, const F& fn) {
  const uint64_t* m = e.mask.data() + (y - e.y0) * e.words;
  const int64_t tiles = (W + kTile - 1) / kTile;
  int64_t t = 0;
  while (t < tiles) {
    // next set bit at or after t
    int64_t w = t >> 6;
    uint64_t bits = m[w] & (~uint64_t(0) << (t & 63));
    while (!bits && ++w < e.words) bits = m[w];
    if (!bits) return;
    const int64_t first = (w << 6) + __builtin_ctzll(bits);
    // next clear bit after first
    bits = ~m[w] & (~uint64_t(0) << (first & 63));
    while (!bits && ++w < e.words) bits = ~m[w];
    const int64_t stop = bits ? std::min<int64_t>((w << 6) + __builtin_ctzll(bits), tiles) : tiles;
    fn(first * kTile, std::min<int64_t>(W, stop * kTile) - 1);
    t = stop;
  }
}

// Gaussian kernel: every pixel of each source's window into `direct`.
template <typename scalar_t, typename acc_t>
struct GaussScatter {
  const Image<scalar_t>& im;
  acc_t* direct;
  std::vector<acc_t> val;
  GaussScatter(const Image<scalar_t>& im_, acc_t* direct_) : im(im_), direct(direct_), val(im_.C + 1) {}
  void operator()(int64_t y0, int64_t x0) {
    const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = C + 1;
    const Weigher<scalar_t> wg(kGaussian, nullptr, std::abs(im.def[y0 * W + x0]));
    for (int64_t c = 0; c < C; ++c) val[c] = static_cast<acc_t>(im.img[c * HW + y0 * W + x0]);
    val[C] = acc_t(1);
    const int64_t h = wg.half;
    for (int64_t dy = std::max<int64_t>(-h, -y0); dy <= std::min<int64_t>(h, H - 1 - y0); ++dy) {
      for (int64_t dx = std::max<int64_t>(-h, -x0); dx <= std::min<int64_t>(h, W - 1 - x0); ++dx) {
        scalar_t k, dk;
        wg(dx, dy, k, dk);
        acc_t* out = direct + ((y0 + dy) * W + x0 + dx) * nc;
        for (int64_t c = 0; c < nc; ++c) out[c] += static_cast<acc_t>(k) * val[c];
      }
    }
  }
};

// Gaussian kernel: gradients of one source from the gated pq of its layer.
template <typename scalar_t, typename acc_t>
struct GaussGather {
  const Image<scalar_t>& im;
  const acc_t* pq;
  scalar_t* g_img;
  scalar_t* g_def;
  std::vector<double> val, gi;
  GaussGather(const Image<scalar_t>& im_, const acc_t* pq_, scalar_t* g_img_, scalar_t* g_def_)
      : im(im_), pq(pq_), g_img(g_img_), g_def(g_def_), val(im_.C), gi(im_.C) {}
  void operator()(int64_t y0, int64_t x0) {
    const int64_t H = im.H, W = im.W, HW = H * W, C = im.C, nc = C + 1;
    const scalar_t D = im.def[y0 * W + x0];
    const Weigher<scalar_t> wg(kGaussian, nullptr, std::abs(D));
    for (int64_t c = 0; c < C; ++c) val[c] = static_cast<double>(im.img[c * HW + y0 * W + x0]);
    std::fill(gi.begin(), gi.end(), 0.0);
    double gr = 0.0;
    const int64_t h = wg.half;
    for (int64_t dy = std::max<int64_t>(-h, -y0); dy <= std::min<int64_t>(h, H - 1 - y0); ++dy) {
      for (int64_t dx = std::max<int64_t>(-h, -x0); dx <= std::min<int64_t>(h, W - 1 - x0); ++dx) {
        scalar_t k, dk;
        wg(dx, dy, k, dk);
        const acc_t* p = pq + ((y0 + dy) * W + x0 + dx) * nc;
        double m = -static_cast<double>(p[C]);
        for (int64_t c = 0; c < C; ++c) {
          m += val[c] * static_cast<double>(p[c]);
          gi[c] += static_cast<double>(k) * static_cast<double>(p[c]);
        }
        gr += static_cast<double>(dk) * m;
      }
    }
    for (int64_t c = 0; c < C; ++c) g_img[c * HW + y0 * W + x0] = static_cast<scalar_t>(gi[c]);
    g_def[y0 * W + x0] = static_cast<scalar_t>(D > 0 ? gr : (D < 0 ? -gr : 0.0));
  }
};

// Gate g of a layer at a target k = l - L(t) layers in front of it, and dg/dD(t).
inline void layer_gate(const LayerGate& gate, int64_t k, double residual, double& g, double& dg) {
  if (k > gate.k_hi) {
    g = 1.0;
    dg = 0.0;
  } else if (k < gate.k_lo) {
    g = 0.0;
    dg = 0.0;
  } else {
    g = 1.0 / (1.0 + gate.T[k - gate.k_lo] * residual);
    dg = -gate.sharp * g * (1.0 - g);
  }
}

// Working buffers of one thread. diff and direct are all zero between layers (the composite clears what it reads).
template <typename acc_t>
struct Buffers {
  std::vector<double> diff;      // [H, W+1, nc] row difference buffer of the core spans (soft disc)
  std::vector<acc_t> direct;     // [H, W, nc] band (soft disc) or window (gaussian) contributions
  std::vector<acc_t> num;        // [H, W, nc] composited numerator and weight (forward)
  std::vector<double> residual;  // [H, W] exp(u(t))
  std::vector<acc_t> gated;      // [H, W, nc] gate * pq of the current layer (backward)
  std::vector<double> prefix;    // [H, W+1, nc] its row prefix sums (backward, soft disc)
  std::vector<double> gdt;       // [H, W] dL/dD(t) through the gates (backward)
  Buffers(int64_t H, int64_t W, int64_t nc, bool spans, bool backward, bool disc)
      : diff(spans ? H * (W + 1) * nc : 0, 0.0), direct(H * W * nc, acc_t(0)), num(backward ? 0 : H * W * nc),
        residual(H * W), gated(backward ? H * W * nc : 0), prefix(backward && disc ? H * (W + 1) * nc : 0),
        gdt(backward ? H * W : 0) {}
};

// Sources of layer j row by row, calling scatter(y, x) for each, and row(y) for each target row of the extent as
// soon as every source that reaches it was scattered; then gather(y, x) for each source once every row within its
// reach went through row(y) (backward). Rows that no source reaches are skipped.
template <typename Scatter, typename Row, typename Gather>
void stream_layer(const LayerGroups& g, int64_t j, const Extent& e, Scatter& scatter, const Row& row,
                  Gather* gather) {
  const int64_t reach = g.reach[j], end = g.start[j + 1];
  int64_t p = g.start[j], q = g.start[j];
  const int64_t last = gather ? g.ys[end - 1] + 2 * reach : e.y1 + reach;
  for (int64_t y = g.ys[p]; y <= last; ++y) {
    for (; p < end && g.ys[p] == y; ++p) scatter(y, g.xs[p]);
    const int64_t yc = y - reach;
    if (yc >= e.y0 && yc <= e.y1) row(yc);
    if (gather)
      for (; q < end && g.ys[q] == y - 2 * reach; ++q) (*gather)(y - 2 * reach, g.xs[q]);
  }
}

template <typename scalar_t, typename acc_t, int NCT>
void forward_image(const Image<scalar_t>& im, const int32_t* lid, int kernel, const LayerGate& gate,
                   const std::vector<DiscStencil<acc_t>>& stencils, Buffers<acc_t>& buf, scalar_t* out,
                   scalar_t* wsum) {
  const int64_t C = im.C, H = im.H, W = im.W, HW = H * W, nc = NCT > 0 ? NCT : C + 1;
  const LayerGroups g = group_layers(im, lid, kernel);
  for (int64_t t = 0; t < HW; ++t) buf.residual[t] = gate.residual(im.def[t], lid[t]);
  std::fill(buf.num.begin(), buf.num.end(), acc_t(0));
  double* __restrict dif = buf.diff.empty() ? nullptr : buf.diff.data();
  acc_t* __restrict dir = buf.direct.data();
  acc_t* __restrict acc = buf.num.data();
  const double* __restrict res = buf.residual.data();
  DiscScatter<scalar_t, acc_t, NCT> disc(im, stencils, dif, dir);
  GaussScatter<scalar_t, acc_t> gauss(im, dir);
  std::vector<double> run_heap(nc);
  Extent e;
  for (int64_t j = 0; j < static_cast<int64_t>(g.id.size()); ++j) {
    layer_extent(g, j, H, W, e);
    const int64_t id = g.id[j];
    auto row = [&](int64_t y) { for_each_run(e, y, W, [&](int64_t lo, int64_t hi) {
      double run_stack[8];
      double* __restrict run = nc <= 8 ? run_stack : run_heap.data();
      for (int64_t c = 0; c < nc; ++c) run[c] = 0.0;
      double* d = dif ? dif + y * (W + 1) * nc : nullptr;
      for (int64_t x = lo; x <= hi; ++x) {
        const int64_t t = y * W + x;
        if (d)
          for (int64_t c = 0; c < nc; ++c) {
            run[c] += d[x * nc + c];
            d[x * nc + c] = 0.0;
          }
        acc_t* q = dir + t * nc;
        double gt, dg;
        layer_gate(gate, id - lid[t], res[t], gt, dg);
        if (gt == 1.0) {
          for (int64_t c = 0; c < nc; ++c) acc[t * nc + c] += static_cast<acc_t>(run[c] + static_cast<double>(q[c]));
        } else if (gt != 0.0) {
          for (int64_t c = 0; c < nc; ++c)
            acc[t * nc + c] += static_cast<acc_t>(gt * (run[c] + static_cast<double>(q[c])));
        }
        for (int64_t c = 0; c < nc; ++c) q[c] = acc_t(0);
      }
      if (d)
        for (int64_t c = 0; c < nc; ++c) d[(hi + 1) * nc + c] = 0.0;
    }); };
    if (kernel == kSoftDisc)
      stream_layer(g, j, e, disc, row, static_cast<DiscScatter<scalar_t, acc_t, NCT>*>(nullptr));
    else
      stream_layer(g, j, e, gauss, row, static_cast<GaussScatter<scalar_t, acc_t>*>(nullptr));
  }
  for (int64_t t = 0; t < HW; ++t) {
    const double wt = static_cast<double>(acc[t * nc + C]);
    for (int64_t c = 0; c < C; ++c) out[c * HW + t] = static_cast<scalar_t>(static_cast<double>(acc[t * nc + c]) / wt);
    wsum[t] = static_cast<scalar_t>(wt);
  }
}

template <typename scalar_t, typename acc_t, int NCT>
void backward_image(const Image<scalar_t>& im, const int32_t* lid, int kernel, const LayerGate& gate,
                    const std::vector<DiscStencil<acc_t>>& stencils, const double* pq, Buffers<acc_t>& buf,
                    scalar_t* g_img, scalar_t* g_def) {
  const int64_t C = im.C, H = im.H, W = im.W, HW = H * W, nc = NCT > 0 ? NCT : C + 1;
  const LayerGroups g = group_layers(im, lid, kernel);
  for (int64_t t = 0; t < HW; ++t) buf.residual[t] = gate.residual(im.def[t], lid[t]);
  std::fill(buf.gdt.begin(), buf.gdt.end(), 0.0);
  double* dif = buf.diff.empty() ? nullptr : buf.diff.data();
  acc_t* dir = buf.direct.data();
  acc_t* gq = buf.gated.data();
  double* pre = buf.prefix.empty() ? nullptr : buf.prefix.data();
  double* gdt = buf.gdt.data();
  const double* res = buf.residual.data();
  DiscScatter<scalar_t, acc_t, NCT> disc(im, stencils, dif, dir);
  GaussScatter<scalar_t, acc_t> gauss(im, dir);
  DiscGather<scalar_t, acc_t, NCT> disc_gather(im, stencils, gq, pre, g_img, g_def);
  GaussGather<scalar_t, acc_t> gauss_gather(im, gq, g_img, g_def);
  std::vector<double> run(nc), a(nc);
  Extent e;
  for (int64_t j = 0; j < static_cast<int64_t>(g.id.size()); ++j) {
    layer_extent(g, j, H, W, e);
    const int64_t id = g.id[j];
    // at the targets: the layer's value A (to differentiate the gate), then g * pq and its row prefix sums
    auto row = [&](int64_t y) { for_each_run(e, y, W, [&](int64_t lo, int64_t hi) {
      std::fill(run.begin(), run.end(), 0.0);
      double* d = dif ? dif + y * (W + 1) * nc : nullptr;
      double* pr = pre ? pre + y * (W + 1) * nc : nullptr;
      if (pr)
        for (int64_t c = 0; c < nc; ++c) pr[lo * nc + c] = 0.0;
      for (int64_t x = lo; x <= hi; ++x) {
        const int64_t t = y * W + x;
        if (d)
          for (int64_t c = 0; c < nc; ++c) {
            run[c] += d[x * nc + c];
            d[x * nc + c] = 0.0;
          }
        acc_t* q = dir + t * nc;
        for (int64_t c = 0; c < nc; ++c) {
          a[c] = run[c] + static_cast<double>(q[c]);
          q[c] = acc_t(0);
        }
        double gt, dg;
        layer_gate(gate, id - lid[t], res[t], gt, dg);
        const double* p = pq + t * nc;
        if (dg != 0.0) {
          double dot = -p[C] * a[C];
          for (int64_t c = 0; c < C; ++c) dot += p[c] * a[c];
          gdt[t] += dg * dot;
        }
        for (int64_t c = 0; c < nc; ++c) {
          const double v = gt * p[c];
          gq[t * nc + c] = static_cast<acc_t>(v);
          if (pr) pr[(x + 1) * nc + c] = pr[x * nc + c] + v;
        }
      }
      if (d)
        for (int64_t c = 0; c < nc; ++c) d[(hi + 1) * nc + c] = 0.0;
    }); };
    if (kernel == kSoftDisc)
      stream_layer(g, j, e, disc, row, &disc_gather);
    else
      stream_layer(g, j, e, gauss, row, &gauss_gather);
  }
  for (int64_t t = 0; t < HW; ++t) g_def[t] = static_cast<scalar_t>(static_cast<double>(g_def[t]) + gdt[t]);
}

template <typename scalar_t, int NCT>
std::vector<at::Tensor> forward_impl(const at::Tensor& image, const at::Tensor& defocus, const at::Tensor& layer,
                                     int kernel, const LayerGate& gate) {
  using acc_t = scalar_t;
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t nc = NCT > 0 ? NCT : C + 1;
  const int max_r = checked_max_radius<scalar_t>(defocus);
  const bool spans = kernel == kSoftDisc && max_r >= 2;  // no disc has a core below R = 2
  std::vector<DiscStencil<acc_t>> stencils;
  if (kernel == kSoftDisc)
    stencils = make_stencils<scalar_t, acc_t>(defocus.data_ptr<scalar_t>(), defocus.numel(), max_r, W);
  auto out = at::empty_like(image);
  auto wsum = at::empty_like(defocus);
  at::parallel_for(0, B, 1, [&](int64_t b_begin, int64_t b_end) {
    Buffers<acc_t> buf(H, W, nc, spans, false, kernel == kSoftDisc);
    for (int64_t b = b_begin; b < b_end; ++b)
      forward_image<scalar_t, acc_t, NCT>(image_of<scalar_t>(image, defocus, b), layer.data_ptr<int32_t>() + b * HW,
                                          kernel, gate, stencils, buf, out.data_ptr<scalar_t>() + b * C * HW,
                                          wsum.data_ptr<scalar_t>() + b * HW);
  });
  return {out, wsum};
}

template <typename scalar_t, int NCT>
std::vector<at::Tensor> backward_impl(const at::Tensor& grad_out, const at::Tensor& image, const at::Tensor& defocus,
                                      const at::Tensor& layer, const at::Tensor& out, const at::Tensor& wsum,
                                      int kernel, const LayerGate& gate) {
  using acc_t = scalar_t;
  const int64_t B = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3), HW = H * W;
  const int64_t nc = NCT > 0 ? NCT : C + 1;
  const int max_r = checked_max_radius<scalar_t>(defocus);
  const bool spans = kernel == kSoftDisc && max_r >= 2;
  std::vector<DiscStencil<acc_t>> stencils;
  if (kernel == kSoftDisc)
    stencils = make_stencils<scalar_t, acc_t>(defocus.data_ptr<scalar_t>(), defocus.numel(), max_r, W);
  const at::Tensor pq = make_pq<scalar_t, double>(grad_out, out, wsum);
  auto g_img = at::empty_like(image);
  auto g_def = at::empty_like(defocus);
  at::parallel_for(0, B, 1, [&](int64_t b_begin, int64_t b_end) {
    Buffers<acc_t> buf(H, W, nc, spans, true, kernel == kSoftDisc);
    for (int64_t b = b_begin; b < b_end; ++b)
      backward_image<scalar_t, acc_t, NCT>(image_of<scalar_t>(image, defocus, b),
                                           layer.data_ptr<int32_t>() + b * HW, kernel, gate, stencils,
                                           pq.data_ptr<double>() + b * HW * nc, buf,
                                           g_img.data_ptr<scalar_t>() + b * C * HW,
                                           g_def.data_ptr<scalar_t>() + b * HW);
  });
  return {g_img, g_def};
}

}  // namespace

std::vector<at::Tensor> splat_bokeh_layered_forward(const at::Tensor& image, const at::Tensor& defocus,
                                                    const at::Tensor& layer, int64_t kernel, double layer_width,
                                                    double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  check_layered_inputs(defocus, layer, layer_width, sharpness);
  TORCH_CHECK(image.device().is_cpu(), "splat_bokeh cpu kernel got a ", image.device(), " tensor");
  const LayerGate gate(layer_width, margin, sharpness);
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_layered_forward_cpu", [&] {
    const int k = static_cast<int>(kernel);
    if (image.size(1) == 3) return forward_impl<scalar_t, 4>(image, defocus, layer, k, gate);
    if (image.size(1) == 1) return forward_impl<scalar_t, 2>(image, defocus, layer, k, gate);
    return forward_impl<scalar_t, 0>(image, defocus, layer, k, gate);
  });
}

std::vector<at::Tensor> splat_bokeh_layered_backward(const at::Tensor& grad_out, const at::Tensor& image,
                                                     const at::Tensor& defocus, const at::Tensor& layer,
                                                     const at::Tensor& out, const at::Tensor& wsum, int64_t kernel,
                                                     double layer_width, double margin, double sharpness) {
  check_splat_inputs(image, defocus, kernel);
  check_layered_inputs(defocus, layer, layer_width, sharpness);
  TORCH_CHECK(grad_out.sizes() == image.sizes() && out.sizes() == image.sizes() && wsum.sizes() == defocus.sizes(),
              "splat_bokeh backward: saved tensors do not match the inputs");
  TORCH_CHECK(grad_out.scalar_type() == image.scalar_type() && grad_out.is_contiguous(),
              "grad_out must be contiguous with the image dtype");
  const LayerGate gate(layer_width, margin, sharpness);
  return AT_DISPATCH_FLOATING_TYPES(image.scalar_type(), "splat_bokeh_layered_backward_cpu", [&] {
    const int k = static_cast<int>(kernel);
    if (image.size(1) == 3) return backward_impl<scalar_t, 4>(grad_out, image, defocus, layer, out, wsum, k, gate);
    if (image.size(1) == 1) return backward_impl<scalar_t, 2>(grad_out, image, defocus, layer, out, wsum, k, gate);
    return backward_impl<scalar_t, 0>(grad_out, image, defocus, layer, out, wsum, k, gate);
  });
}

}  // namespace cpu
}  // namespace mmbokeh
