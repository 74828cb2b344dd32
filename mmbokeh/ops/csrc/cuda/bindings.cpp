// Python bindings of the CUDA extension (module mmbokeh.ops._ext_cuda or its JIT-built twin).
#include <torch/csrc/utils/pybind.h>

#include "../common/ops.h"
#include "../common/splat_layered.h"

#ifndef MMBOKEH_OPS_HASH
#define MMBOKEH_OPS_HASH unknown
#endif
#define MMB_STR2(x) #x
#define MMB_STR(x) MMB_STR2(x)

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "mmbokeh DoF ops: CUDA kernels";
  m.def("source_hash", [] { return std::string(MMB_STR(MMBOKEH_OPS_HASH)); }, "hash of the sources this was built from");
  m.def("splat_bokeh_forward", &mmbokeh::cuda::splat_bokeh_forward);
  m.def("splat_bokeh_backward", &mmbokeh::cuda::splat_bokeh_backward);
  m.def("splat_bokeh_layered_forward", &mmbokeh::cuda::splat_bokeh_layered_forward);
  m.def("splat_bokeh_layered_backward", &mmbokeh::cuda::splat_bokeh_layered_backward);
  m.def("psf_blur_forward", &mmbokeh::cuda::psf_blur_forward);
  m.def("psf_blur_backward", &mmbokeh::cuda::psf_blur_backward);
  m.def("rasterize_forward", &mmbokeh::cuda::rasterize_forward);
  m.def("rasterize_backward", &mmbokeh::cuda::rasterize_backward);
}
