// Helpers shared by the CPU scatter passes of splat_bokeh.
#pragma once

#include <ATen/Parallel.h>

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
