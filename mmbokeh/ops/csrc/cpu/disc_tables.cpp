// Builds the cached soft-disc geometry tables (see common/disc_tables.h).
#include "../common/disc_tables.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace mmbokeh {

namespace {

int64_t isqrt(int64_t n) {
  if (n <= 0) return 0;
  int64_t s = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  while (s * s > n) --s;
  while ((s + 1) * (s + 1) <= n) ++s;
  return s;
}

std::shared_ptr<const DiscTables> build(int max_r) {
  auto t = std::make_shared<DiscTables>();
  t->max_r = max_r;
  const int64_t n_max = static_cast<int64_t>(max_r + 3) * (max_r + 3);
  t->frac_d.resize(n_max + 1);
  t->frac_f.resize(n_max + 1);
  t->fl.resize(n_max + 1);
  for (int64_t n = 0; n <= n_max; ++n) {
    const double rho = std::sqrt(static_cast<double>(n));
    const int64_t f = isqrt(n);
    t->fl[n] = static_cast<int32_t>(f);
    t->frac_d[n] = std::exp(8.0 * (rho - static_cast<double>(f)));
    t->frac_f[n] = static_cast<float>(t->frac_d[n]);
  }
  t->row_start.resize(max_r + 2);
  int64_t total = 0;
  for (int R = 0; R <= max_r; ++R) {
    t->row_start[R] = total;
    total += R + 2;
  }
  t->row_start[max_r + 1] = total;
  t->core.resize(total);
  t->outer.resize(total);
  for (int R = 0; R <= max_r; ++R) {
    const int64_t inner2 = static_cast<int64_t>(R - 2) * (R - 2);
    const int64_t outer2 = static_cast<int64_t>(R + 3) * (R + 3);
    for (int dy = 0; dy <= R + 1; ++dy) {
      const int64_t dy2 = static_cast<int64_t>(dy) * dy;
      int32_t a = -1;
      if (R >= 3 && dy2 < inner2) a = static_cast<int32_t>(isqrt(inner2 - dy2 - 1));  // a^2 < inner2 - dy2
      t->core[t->row_start[R] + dy] = a;
      t->outer[t->row_start[R] + dy] = static_cast<int32_t>(std::min<int64_t>(R + 1, isqrt(outer2 - dy2)));
    }
  }
  return t;
}

}  // namespace

std::shared_ptr<const DiscTables> disc_tables(int max_r) {
  static std::mutex mutex;
  static std::shared_ptr<const DiscTables> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (!cache || cache->max_r < max_r) {
    const int grown = cache ? std::max(max_r, std::min(2 * cache->max_r, 1024)) : std::max(max_r, 64);
    cache = build(grown);
  }
  return cache;
}

}  // namespace mmbokeh
