// The op library: the op's schema and its CPU kernel, registered with LibTorch's dispatcher
// when the library is loaded (TORCH_LIBRARY is how PyTorch registers custom ops).
#include "fancy_act.h"

#include <ATen/ATen.h>
#include <torch/library.h>

namespace mylib {

at::Tensor fancyAct(const at::Tensor& x, double alpha) {
  TORCH_CHECK(x.is_floating_point(), "mylib::fancy_act expects a floating-point tensor, got ", x.scalar_type());
  return x * at::sigmoid(x * alpha);
}

}  // namespace mylib

extern "C" __attribute__((visibility("default"))) const char* mylib_fancy_act_ops_version(void) { return "1.0.0"; }

TORCH_LIBRARY(mylib, m) { m.def("fancy_act(Tensor x, float alpha) -> Tensor"); }

TORCH_LIBRARY_IMPL(mylib, CPU, m) { m.impl("fancy_act", &mylib::fancyAct); }
