#!/usr/bin/python3
"""Inputs torchport refuses on purpose (issue 7), each with a message that says what to do:

  - a dynamic-quantized GRU (aten::quantized_gru with CellParamsBase objects): not converted
    (dynamic-quantized LSTMs are: quant_dynamic_lstm in cases.py); the message says to quantize
    only the LSTM and Linear layers, or only the Linear layers, or to export the float model;
  - a flatbuffer lite-interpreter file (_save_for_lite_interpreter(_use_flatbuffer=True)):
    bytecode only, no TorchScript graph; the message says to export the .pt.

    /usr/bin/python3 refusals.py --work DIR --torchport PATH
Exit 0 when every input is refused with the expected exit code and message, 1 otherwise.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def make_quantized_gru(path: Path) -> None:
    import torch

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(8, 16)
            self.fc = torch.nn.Linear(16, 4)

        def forward(self, x):
            y, _ = self.gru(x)
            return self.fc(y)

    torch.manual_seed(0)
    model = torch.quantization.quantize_dynamic(Tagger().eval(), {torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
    torch.jit.trace(model, torch.randn(5, 2, 8)).save(str(path))


def make_flatbuffer_lite(path: Path) -> None:
    import torch
    module = torch.jit.trace(torch.nn.Linear(4, 2).eval(), torch.randn(1, 4))
    module._save_for_lite_interpreter(str(path), _use_flatbuffer=True)


# (file, maker, --inputs, expected exit code, substrings of stderr)
CASES = [
    ("quantized_gru.pt", make_quantized_gru, "x=f32[5,2,8]", 4,
     ["dynamic-quantized recurrent layer", "aten::quantized_gru", "qconfig_spec={nn.Linear}"]),
    ("flatbuffer.ptl", make_flatbuffer_lite, "x=f32[1,4]", 3,
     ["flatbuffer lite-interpreter file", "torch.jit.save"]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--torchport", type=Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    failures = []
    for name, maker, inputs, code, needles in CASES:
        path = args.work / name
        maker(path)
        command = [str(args.torchport), "convert", str(path), "-o", str(args.work / (name + ".onnx")), "--inputs", inputs]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        missing = [n for n in needles if n not in result.stderr]
        verdict = "ok" if result.returncode == code and not missing else "FAIL"
        print(f"{name}: exit {result.returncode} (expected {code}) {verdict}\n    {result.stderr.strip()[:400]}")
        if result.returncode != code:
            failures.append(f"{name}: exit code {result.returncode}, expected {code}")
        if missing:
            failures.append(f"{name}: message lacks {missing}")
        if (args.work / (name + ".onnx")).exists():
            failures.append(f"{name}: an output file was written although the conversion was refused")
    for failure in failures:
        print("FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
