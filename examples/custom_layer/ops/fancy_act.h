// mylib::fancy_act(Tensor x, float alpha) -> Tensor, a custom PyTorch op:
//   fancy_act(x, alpha) = x * sigmoid(alpha * x)
// (a "swish" whose slope alpha is an argument; alpha = 1 is SiLU, large alpha approaches ReLU).
// Python loads the same library with torch.ops.load_library("libfancy_act_ops.so") and calls
// torch.ops.mylib.fancy_act(x, 1.5).
#pragma once

#include <ATen/core/Tensor.h>

namespace mylib {

at::Tensor fancyAct(const at::Tensor& x, double alpha);

}  // namespace mylib

// A plain-C symbol that the torchport plugin calls, so that linking the plugin to this
// library really loads it (and with it the TORCH_LIBRARY registration) into torchport.
extern "C" const char* mylib_fancy_act_ops_version(void);
