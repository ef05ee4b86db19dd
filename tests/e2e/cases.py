#!/usr/bin/python3
"""The end-to-end model zoo as one table: adding a model is one line in CASES.

This module imports nothing heavy at load time (torch is imported lazily by the factories
and input makers), so CMake can list the cases at configure time:

    /usr/bin/python3 cases.py --cmake     # one line per case: name|modes|opsets|labels
"""
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple

TRACED, SCRIPTED = "traced", "scripted"
BOTH = (TRACED, SCRIPTED)
DEFAULT_OPSETS = (13, 17)
WITH_18 = (13, 17, 18)


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable[[], object]                  # builds the nn.Module (random weights)
    inputs: Callable[[int, object], list]          # (batch, torch.Generator) -> [tensors]
    input_names: Sequence[str] = ("input",)
    output_names: Sequence[str] = ("output",)
    # {input name: {axis: symbol}}; default: axis 0 of every input is "batch".
    dynamic_axes: Dict[str, Dict[int, str]] = field(default=None)
    modes: Tuple[str, ...] = BOTH
    opsets: Tuple[int, ...] = DEFAULT_OPSETS
    slow: bool = False
    batches: Tuple[int, ...] = (2, 3)              # first = the traced batch size
    rtol: float = 1e-4                             # max abs err <= rtol * max(1, max|ref|)
    # optimize_for_mobile before saving (XNNPACK prepacked ops); also saves <mode>.ptl (lite).
    mobile: bool = False

    def axes(self) -> Dict[str, Dict[int, str]]:
        if self.dynamic_axes is not None:
            return self.dynamic_axes
        return {name: {0: "batch"} for name in self.input_names}


# ---- factories (lazy imports keep `cases.py --cmake` fast) ---------------------------------

def tv(name: str, **kwargs):
    def build():
        import torchvision
        return getattr(torchvision.models, name)(weights=None, **kwargs)
    return build


def quantized(function_name: str, **kwargs):
    def build():
        import quantized_models
        return getattr(quantized_models, function_name)(**kwargs)
    return build


def signal(length: int):
    """[batch, length] audio-like signal; the length changes with the batch size."""
    def make(batch, gen):
        import torch
        return [torch.randn(batch, length + 37 * batch, generator=gen)]
    return make


def custom(class_name: str, **kwargs):
    def build():
        import custom_models
        return getattr(custom_models, class_name)(**kwargs)
    return build


# ---- input makers --------------------------------------------------------------------------

def image(size: int, channels: int = 3):
    def make(batch, gen):
        import torch
        return [torch.randn(batch, channels, size, size, generator=gen)]
    return make


def features(dim: int, shift_by_batch: Dict[int, float] = None):
    """[batch, dim] floats; shift_by_batch adds a per-batch offset (to steer data-dependent ifs)."""
    def make(batch, gen):
        import torch
        x = torch.randn(batch, dim, generator=gen)
        return [x + (shift_by_batch or {}).get(batch, 0.0)]
    return make


def sequence(dim: int):
    """[batch, seq, dim]; the sequence length changes with the batch size to test a dynamic seq axis."""
    def make(batch, gen):
        import torch
        return [torch.randn(batch, 3 + 2 * batch, dim, generator=gen)]
    return make


def padded_sequence(dim: int):
    """[batch, seq, dim] plus a bool padding mask [batch, seq] (True = padding).
    Row 0 is never padded so the padded output keeps the full sequence length."""
    def make(batch, gen):
        import torch
        seq = 3 + 2 * batch
        mask = torch.zeros(batch, seq, dtype=torch.bool)
        for row in range(1, batch):
            mask[row, seq - row:] = True
        return [torch.randn(batch, seq, dim, generator=gen), mask]
    return make


def tokens(vocab: int):
    def make(batch, gen):
        import torch
        return [torch.randint(0, vocab, (batch, 2 + 3 * batch), generator=gen, dtype=torch.long)]
    return make


SEQ_AXES = {"input": {0: "batch", 1: "seq"}}

# ---- the zoo -------------------------------------------------------------------------------
# Image sizes are the smallest sensible for each model: CI has 2 cores. alexnet and vgg11_bn
# keep 224: smaller inputs make their adaptive pooling upsample (e.g. 2x2 -> 7x7), which has
# no fixed-window ONNX form, and nobody deploys them that way.
CASES: List[Case] = [
    Case("resnet18", tv("resnet18"), image(64), opsets=WITH_18),
    Case("resnet50", tv("resnet50"), image(64), slow=True),
    Case("mobilenet_v2", tv("mobilenet_v2"), image(64)),
    Case("mobilenet_v3_small", tv("mobilenet_v3_small"), image(64), opsets=WITH_18),
    Case("efficientnet_b0", tv("efficientnet_b0"), image(64), slow=True),
    Case("squeezenet1_1", tv("squeezenet1_1"), image(64)),
    Case("densenet121", tv("densenet121"), image(64), slow=True),
    Case("vgg11_bn", tv("vgg11_bn"), image(224), slow=True),
    Case("shufflenet_v2_x1_0", tv("shufflenet_v2_x1_0"), image(64)),
    Case("regnet_y_400mf", tv("regnet_y_400mf"), image(64), slow=True),
    Case("convnext_tiny", tv("convnext_tiny"), image(64), slow=True),
    # vit_b_16 at 64x64 (4x4 patches): the full ViT-B/16 architecture and weights except a shorter
    # position embedding; at 224 each LibTorch forward takes minutes with Debian's reference BLAS.
    Case("vit_b_16", tv("vit_b_16", image_size=64), image(64), slow=True, opsets=WITH_18),
    # Scripted googlenet returns GoogLeNetOutputs(x, None, None): the always-None aux outputs
    # are dropped, as torch.onnx.export drops them.
    Case("googlenet", tv("googlenet", aux_logits=False, init_weights=True), image(64)),
    Case("alexnet", tv("alexnet"), image(224)),
    Case("mnasnet0_5", tv("mnasnet0_5"), image(64)),
    Case("transformer_encoder", custom("TransformerEncoderModel"), padded_sequence(64),
         input_names=("input", "mask"), dynamic_axes={"input": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}},
         opsets=WITH_18),
    Case("self_attention", custom("SelfAttentionModel"), sequence(64), dynamic_axes=SEQ_AXES),
    Case("lstm", custom("LSTMModel"), sequence(16), output_names=("output", "h_n", "c_n"), dynamic_axes=SEQ_AXES),
    Case("gru", custom("GRUModel"), sequence(16), output_names=("output", "h_n"), dynamic_axes=SEQ_AXES),
    Case("gpt_decoder", custom("GPTDecoder"), tokens(101), input_names=("tokens",), output_names=("logits",),
         dynamic_axes={"tokens": {0: "batch", 1: "seq"}}, opsets=WITH_18),
    Case("mlp_tuple", custom("MLPTuple"), features(16), output_names=("logits", "features")),
    Case("mlp_dict", custom("MLPDict"), features(16), output_names=("logits", "probs")),
    Case("control_flow", custom("ControlFlowModel"), features(16, shift_by_batch={2: 2.0, 3: -2.0}),
         modes=(SCRIPTED,), opsets=WITH_18),
    # ---- issue 7: mobile-optimized TorchScript, quantized TorchScript, stft ----
    # XNNPACK ops run slowly in Debian's LibTorch (minutes per fixture on 2 busy cores): slow.
    Case("resnet18_mobile", tv("resnet18"), image(64), mobile=True, slow=True),
    Case("mobilenet_v2_mobile", tv("mobilenet_v2"), image(64), mobile=True, slow=True),
    # Quantized models in QDQ form: ONNX Runtime's integer kernels vs PyTorch's differ by
    # rounding at quantization boundaries (an activation value exactly between two levels),
    # each such flip moving an output by about one quantization step (see quantized.cpp).
    # dynamic (7-bit activations with reduce_range, as onednn/fbgemm): measured 3e-8, the limit
    # allows one flipped activation level; static: outputs are quantized to steps of ~1% of
    # their range and a flip moves one output by a step (measured 8.7e-3 of max|ref| 1.02).
    Case("quant_dynamic_mlp", quantized("dynamic_quant_mlp"), features(16), rtol=1e-3),
    Case("quant_static_convnet", quantized("static_quant_convnet"), image(32), rtol=2e-2),
    # Dynamic-quantized LSTM (aten::quantized_lstm, 2 layers, batch_first) -> float ONNX LSTM with
    # dequantized weights (packed_params.h). LibTorch rounds x and h to 7-bit activations
    # (reduce_range) before every gate product; ONNX LSTM runs in float, and the rounding error
    # accumulates through the time steps: measured up to 1.3e-2 on c_n (max|c_n| ~0.7; 3.3e-3 on
    # the head output), against a float LSTM with the same weights over 10 seeded inputs. A wrong
    # gate order or one dropped bias moves h_n and c_n by 9e-2 to 4e-1 (measured), well above the limit.
    Case("quant_dynamic_lstm", quantized("dynamic_quant_lstm"), sequence(16), output_names=("output", "h_n", "c_n"),
         dynamic_axes=SEQ_AXES, rtol=3e-2),
    Case("stft_magnitude", quantized("StftMagnitude"), signal(400), opsets=WITH_18,
         dynamic_axes={"input": {0: "batch", 1: "samples"}}),
    Case("stft_real_normalized", quantized("StftRealNormalized"), signal(300),
         dynamic_axes={"input": {0: "batch", 1: "samples"}}),
]

BY_NAME = {case.name: case for case in CASES}


def get(name: str) -> Case:
    if name not in BY_NAME:
        raise SystemExit(f"unknown e2e model '{name}'; known: {', '.join(BY_NAME)} (tests/e2e/cases.py)")
    return BY_NAME[name]


def main(argv):
    if argv[1:] == ["--cmake"]:
        for case in CASES:
            labels = ["e2e"] + (["slow"] if case.slow else [])
            print(f"{case.name}|{','.join(case.modes)}|{','.join(map(str, case.opsets))}|{','.join(labels)}")
        return 0
    if argv[1:] == ["--list"]:
        print("\n".join(BY_NAME))
        return 0
    print(f"usage: {argv[0]} --cmake | --list", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
