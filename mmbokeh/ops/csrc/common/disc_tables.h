// Integer geometry of BokehMe's soft disc on the pixel grid, for the general (window) CPU path of splat_bokeh.
//
// A source of radius r (R = floor(r)) covers the square |dx|,|dy| <= R + 1. Inside rho < R - 2 the tanh edge is
// within 1.2e-7 of 1 (weight taken as 1 / (r^2 + 0.2)); beyond rho > R + 3 the weight is below 1.2e-7 of that and
// dropped; in between the edge sigmoid(8 (r - rho)) is evaluated as 1 / (1 + frac[n] * mult[fl[n] - R + 2]) with
// n = rho^2, frac[n] = exp(8 (rho - floor(rho))) and mult[k] = exp(8 (R - 2 + k - r)): one exp per source instead
// of one per pixel. The split depends on R only, so the output stays smooth in r between integers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace mmbokeh {

struct DiscTables {
  int max_r = -1;                 // tables cover every R in [0, max_r]
  std::vector<double> frac_d;     // exp(8 (sqrt(n) - floor(sqrt(n)))), n in [0, (max_r + 3)^2]
  std::vector<float> frac_f;      // the same in float
  std::vector<int32_t> fl;        // floor(sqrt(n))
  std::vector<int64_t> row_start; // index of (R, dy = 0) in core / outer
  std::vector<int32_t> core;      // per (R, |dy| <= R+1): largest |dx| of the core span, -1 when none
  std::vector<int32_t> outer;     // per (R, |dy| <= R+1): largest |dx| of the band

  template <typename T>
  const T* frac() const;
};

template <>
inline const double* DiscTables::frac<double>() const { return frac_d.data(); }
template <>
inline const float* DiscTables::frac<float>() const { return frac_f.data(); }

// Tables covering radii up to max_r (thread-safe, cached, grow-only).
std::shared_ptr<const DiscTables> disc_tables(int max_r);

}  // namespace mmbokeh
