#!/usr/bin/env python3
"""An independent reader of the safetensors format (no safetensors package needed), strict
about the rules of https://github.com/huggingface/safetensors:

  - 8-byte little-endian header length N, then N bytes of UTF-8 JSON
  - 8 + N is a multiple of 8 (the header is padded with spaces)
  - every entry but __metadata__ has dtype, shape, data_offsets = [begin, end] relative to
    the byte buffer after the header; end - begin = numel * element size
  - the entries cover the buffer exactly: no holes, no overlaps, nothing after the last
  - __metadata__ maps strings to strings

read(path) -> (tensors: {name: numpy array}, metadata: {str: str}); raises ValueError.
As a script: prints one line per tensor.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": None,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    if (8 + n) % 8 != 0:
        raise ValueError(f"8 + header length ({8 + n}) is not a multiple of 8")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buffer = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("__metadata__ must map strings to strings")
    spans = []
    tensors = {}
    for name, entry in header.items():
        if set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{name}: keys {sorted(entry)} are not dtype, shape, data_offsets")
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in SIZES:
            raise ValueError(f"{name}: unknown dtype {dtype}")
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != numel * SIZES[dtype]:
            raise ValueError(f"{name}: {end - begin} bytes for {shape} {dtype}")
        raw = buffer[begin:end]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32).reshape(shape)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<")).reshape(shape)
        tensors[name] = array
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise ValueError(f"{name}: starts at {begin}, expected {position} (hole or overlap)")
        position = end
    if position != len(buffer):
        raise ValueError(f"the tensors cover {position} of {len(buffer)} buffer bytes")
    return tensors, metadata


if __name__ == "__main__":
    tensors, metadata = read(sys.argv[1])
    print("metadata:", metadata)
    for name, array in tensors.items():
        print(name, array.dtype, list(array.shape))
