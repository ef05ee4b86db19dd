#!/usr/bin/env python3
"""Compares ONNX Runtime's outputs with LibTorch's for the demo and prints the result.

    /usr/bin/python3 examples/resnet18/compare.py REF_DIR ORT_DIR LABEL

Passes when max |ort - ref| <= 1e-4 * max(1, max |ref|) (the e2e suite's criterion).
"""
import sys
from pathlib import Path

import numpy as np

RTOL = 1e-4


def main() -> int:
    ref_dir, ort_dir, label = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    ref = np.load(ref_dir / "output.npy")
    ort = np.load(ort_dir / "output.npy")
    if ref.shape != ort.shape:
        print(f"  {label}: FAIL shape {list(ort.shape)} from ONNX Runtime, {list(ref.shape)} from LibTorch")
        return 1
    err = float(np.max(np.abs(ort.astype(np.float64) - ref)))
    limit = RTOL * max(1.0, float(np.max(np.abs(ref))))
    same_top1 = bool(np.all(ort.argmax(axis=1) == ref.argmax(axis=1)))
    verdict = "ok" if err <= limit else "FAIL"
    print(f"  {label}: output {list(ort.shape)}  max abs err {err:.2e} (limit {limit:.1e})  "
          f"same top-1 class: {'yes' if same_top1 else 'NO'}  {verdict}")
    return 0 if err <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
