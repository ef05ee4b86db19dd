#!/usr/bin/python3
"""Generates the end-to-end fixtures: TorchScript files, sample inputs, LibTorch references.

    /usr/bin/python3 fixtures.py --out BUILD/e2e-fixtures [MODEL ...]    (default: all)

For each model of cases.py, in OUT/<model>/:
    traced.pt, scripted.pt          (the modes listed for the case)
    inputs/b<N>/<input>.npy         one set per batch size (the first is the traced one)
    ref/<mode>/b<N>/<output>.npy    outputs of torch.jit.load(<mode>.pt) -- i.e. LibTorch
    meta.json                       names, dynamic axes, batches, the generator hash

Random weights only (nothing is downloaded); every model and input is seeded from its name,
so one model can be regenerated alone with identical results. A model is regenerated only
when meta.json's hash differs from the hash of its cases.py entry, the generating
code (GENERATOR_SOURCES / GENERATOR_FUNCTIONS) and the torch version.
"""
import argparse
import fcntl
import hashlib
import importlib.metadata
import inspect
import json
import os
import shutil
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cases  # noqa: E402  (after sys.path so custom_models resolves too)

# What decides a model's fixture content: these sources, its own cases.py entry
# (case_fingerprint) and the torch/torchvision versions. Locking, logging and the CLI of this
# file are deliberately not part of it, so editing them regenerates nothing.
GENERATOR_SOURCES = ("custom_models.py", "quantized_models.py")
GENERATOR_FUNCTIONS = ("safe_file_name", "model_seed", "randomize_for_inference", "flatten_outputs", "save_npy",
                       "generate")


def describe_callable(fn) -> str:
    """Source of a factory / input maker plus the values it closes over (model name, sizes)."""
    cells = [cell.cell_contents for cell in (fn.__closure__ or ())]
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = fn.__qualname__
    return f"{source}{cells!r}"


def case_fingerprint(case: cases.Case) -> str:
    return repr((case.name, describe_callable(case.factory), describe_callable(case.inputs),
                 tuple(case.input_names), tuple(case.output_names), sorted(case.axes().items()),
                 case.modes, case.batches, case.rtol, case.mobile))


def generator_hash(case: cases.Case) -> str:
    digest = hashlib.sha256()
    for source in GENERATOR_SOURCES:
        digest.update((HERE / source).read_bytes())
    for function in GENERATOR_FUNCTIONS:
        digest.update(inspect.getsource(globals()[function]).encode())
    for dist in ("torch", "torchvision"):
        digest.update(importlib.metadata.version(dist).encode())
    digest.update(case_fingerprint(case).encode())
    return digest.hexdigest()[:16]


def safe_file_name(name: str) -> str:
    """Same mapping as tests/oracle/run.js: every char outside [A-Za-z0-9._-] becomes '_'."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def is_current(model_dir: Path, expected_hash: str) -> bool:
    meta_file = model_dir / "meta.json"
    if not meta_file.exists():
        return False
    try:
        return json.loads(meta_file.read_text()).get("hash") == expected_hash
    except json.JSONDecodeError:
        return False


def model_seed(name: str) -> int:
    return zlib.crc32(name.encode())


# ---- weights ---------------------------------------------------------------------------------

def randomize_for_inference(model, seed: int) -> None:
    """Make a freshly initialized model numerically interesting for conversion tests.

    torchvision zero-initializes some tensors (vit heads, biases) and leaves norm layers at
    identity statistics, which hides bugs (a dropped bias or a mis-folded BatchNorm changes
    nothing) and can make outputs ~0 so every comparison passes. So: norm layers get random
    affine parameters and running statistics, and every all-zero parameter gets small noise.
    """
    import torch
    from torch import nn
    gen = torch.Generator().manual_seed(seed + 1)
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, norm_types):
                if getattr(module, "weight", None) is not None:
                    module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                if getattr(module, "running_mean", None) is not None:
                    module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                    module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
        for _, param in model.named_parameters():
            if param.numel() > 0 and param.is_floating_point() and not param.any():
                param.copy_(torch.randn(param.shape, generator=gen) * 0.02)


# ---- outputs ---------------------------------------------------------------------------------

def flatten_outputs(obj):
    """Tensors of a (nested) result in order: tuples/lists in order, dicts by insertion order,
    None skipped -- the order in which an exporter lists graph outputs."""
    import torch
    if isinstance(obj, torch.Tensor):
        return [obj]
    if obj is None:
        return []
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in flatten_outputs(item)]
    raise TypeError(f"unsupported model output type {type(obj).__name__}")


def save_npy(path: Path, tensor) -> None:
    import numpy as np
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(tensor.detach().cpu().numpy()))


# ---- generation --------------------------------------------------------------------------------

def generate(case: cases.Case, model_dir: Path, gen_hash: str) -> dict:
    import torch
    start = time.time()
    tmp_dir = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)

    seed = model_seed(case.name)
    torch.manual_seed(seed)
    model = case.factory()
    randomize_for_inference(model, seed)
    model.eval()

    batch_inputs = {}
    for batch in case.batches:
        gen = torch.Generator().manual_seed(seed + 100 + batch)
        tensors = case.inputs(batch, gen)
        if len(tensors) != len(case.input_names):
            raise RuntimeError(f"{case.name}: input maker gave {len(tensors)} tensors for input names {list(case.input_names)}")
        batch_inputs[batch] = tensors
        for name, tensor in zip(case.input_names, tensors):
            save_npy(tmp_dir / "inputs" / f"b{batch}" / f"{safe_file_name(name)}.npy", tensor)

    meta = {
        "name": case.name, "hash": gen_hash, "input_names": list(case.input_names),
        "output_names": list(case.output_names),
        "dynamic_axes": {k: {str(a): s for a, s in v.items()} for k, v in case.axes().items()},
        "batches": list(case.batches), "trace_batch": case.batches[0], "rtol": case.rtol,
        "modes": {}, "output_scale": {}, "eager_mismatch": [],
    }
    trace_inputs = tuple(batch_inputs[case.batches[0]])
    with torch.no_grad():
        eager = {b: flatten_outputs(model(*batch_inputs[b])) for b in case.batches}
        for mode in case.modes:
            if mode == cases.TRACED:
                module = torch.jit.trace(model, trace_inputs, strict=False, check_trace=False)
            else:
                module = torch.jit.script(model)
            if case.mobile:
                # XNNPACK prepacked ops (prepacked::conv2d_clamp_run...), as apps ship them; the
                # lite-interpreter file is kept next to it for the .ptl import tests.
                from torch.utils.mobile_optimizer import optimize_for_mobile
                module = optimize_for_mobile(module)
                module._save_for_lite_interpreter(str(tmp_dir / f"{mode}.ptl"))
            path = tmp_dir / f"{mode}.pt"
            module.save(str(path))
            del module
            # The reference is what LibTorch computes from the saved file, not eager PyTorch.
            loaded = torch.jit.load(str(path))
            loaded.eval()
            for batch in case.batches:
                # Plain interpreter: the profiling executor's specialization/fusion passes cost
                # seconds per model and do not change the results beyond float rounding.
                with torch.jit.optimized_execution(False):
                    outputs = flatten_outputs(loaded(*batch_inputs[batch]))
                if len(outputs) != len(case.output_names):
                    raise RuntimeError(f"{case.name} {mode}: {len(outputs)} output tensors, "
                                       f"but output names {list(case.output_names)} in cases.py")
                for name, out, ref in zip(case.output_names, outputs, eager[batch]):
                    if out.shape != ref.shape or not torch.allclose(out.float(), ref.float(), rtol=1e-4, atol=1e-5):
                        # Not fatal: LibTorch is the reference. Legitimate causes exist (the scripted
                        # TransformerEncoder skips nested tensors, so padded positions differ), but a
                        # traced module that baked in its batch size also shows up here.
                        note = f"{mode} at batch {batch}: LibTorch output '{name}' differs from eager PyTorch"
                        meta["eager_mismatch"].append(note)
                        print(f"  note: {case.name} {note}")
                    save_npy(tmp_dir / "ref" / mode / f"b{batch}" / f"{safe_file_name(name)}.npy", out)
            meta["modes"][mode] = f"{mode}.pt"
        for name, ref in zip(case.output_names, eager[case.batches[0]]):
            meta["output_scale"][name] = float(ref.abs().max()) if ref.is_floating_point() else None

    for name, scale in meta["output_scale"].items():
        if scale is not None and scale < 1e-3:
            raise RuntimeError(f"{case.name}: output '{name}' has max |value| {scale:.3g}: too small for a "
                               "meaningful comparison; give the model non-degenerate weights")
    meta["seconds"] = round(time.time() - start, 2)
    (tmp_dir / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp_dir.rename(model_dir)
    return meta


class FixtureLock:
    """Serializes generation of one model between processes sharing the fixture root (ctest
    jobs, the fast and slow fixture tests running side by side)."""

    def __init__(self, root: Path, name: str):
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f".{name}.lock"

    def __enter__(self):
        self.file = open(self.path, "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def ensure(root: Path, names, log=print) -> dict:
    """Makes sure fixtures for `names` exist and are current; returns {name: meta}."""
    metas = {}
    for name in names:
        case = cases.get(name)
        gen_hash = generator_hash(case)
        model_dir = root / name
        with FixtureLock(root, name):
            if is_current(model_dir, gen_hash):
                metas[name] = json.loads((model_dir / "meta.json").read_text())
                continue
            log(f"generating fixtures for {name} ...")
            import torch
            torch.set_num_threads(max(1, os.cpu_count() or 1))
            metas[name] = generate(case, model_dir, gen_hash)
            log(f"  {name}: {', '.join(metas[name]['modes'])} in {metas[name]['seconds']} s")
    return metas


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="fixture root directory")
    parser.add_argument("models", nargs="*", help="models to generate (default: all of cases.py)")
    args = parser.parse_args()
    names = args.models or [case.name for case in cases.CASES]
    start = time.time()
    try:
        ensure(args.out, names)
    except Exception as err:  # noqa: BLE001 -- one clear line for ctest logs, then the trace
        print(f"fixture generation failed: {err}", file=sys.stderr)
        raise
    print(f"fixtures ready for {len(names)} models in {args.out} ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
