"""The command line and cache stamp shared by this directory's fixture generators.

    run_cached(write_all, generator_file)

Reads OUTDIR from argv, and calls write_all(OUTDIR) unless OUTDIR/stamp already holds the
digest of the generator's source, this file's source and the torch version.
"""
import hashlib
import os
import sys

import torch


def run_cached(write_all, generator_file: str) -> None:
    name = os.path.basename(generator_file)
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {name} OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    digest = hashlib.sha256()
    for source in (generator_file, __file__):
        with open(source, "rb") as f:
            digest.update(f.read())
    digest.update(torch.__version__.encode())
    stamp = os.path.join(out, "stamp")
    if os.path.exists(stamp) and open(stamp).read() == digest.hexdigest():
        print("fixtures up to date in", out)
        return
    write_all(out)
    with open(stamp, "w") as f:
        f.write(digest.hexdigest())
    print("fixtures written to", out)
