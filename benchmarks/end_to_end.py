"""One default ``ELFSSelector(budget=0.1)`` fit on a synthetic memory map, in a fresh process.

The pool is ``benchmarks/scale.py``'s synthetic clustered embeddings, ``--n`` x
``--dim`` in ``--dtype`` (float16 halves the file; the pipeline reads it as it is and
casts one mini-batch at a time), generated chunk by chunk into ``--workdir`` when
missing and opened with ``np.load(mmap_mode="r")``. Reported: wall time of the fit,
peak RSS of the fitting process (``ru_maxrss``: its imports, its state, and the pages
of the map it holds) and, sampled twice a second, the peaks of its two parts (anonymous
memory: arrays and libraries; file-backed: pages of the map), the size of the data,
and the stage times the fit's own progress report gives (``verbose=1``, in the log).

Command (alone on the machine; the 10M file takes 7.7 GB of disk)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/end_to_end.py \
        --n 10000000 --dim 384 --dtype float16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import ensure_data  # noqa: E402


class RssSplit(threading.Thread):
    """Samples this process's anonymous and file-backed resident bytes (/proc/self/status)
    twice a second and keeps each one's peak: what the fit holds in its own arrays versus
    the pages of the memory map it has read."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self.done = threading.Event()

    def run(self):
        from skelfs._utils import status_bytes

        while not self.done.wait(0.5):
            for key in self.peak:
                value = status_bytes(key)
                if value is None:  # not Linux: no split reported
                    return
                self.peak[key] = max(self.peak[key], value)


def child(path):
    from skelfs import ELFSSelector

    X = np.load(path, mmap_mode="r")
    monitor = RssSplit()
    monitor.start()
    t0 = time.perf_counter()
    sel = ELFSSelector(budget=0.1, random_state=0, verbose=1).fit(X)
    wall = time.perf_counter() - t0
    monitor.done.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_rss_bytes": peak,
                "peak_anon_bytes": monitor.peak["RssAnon"],
                "peak_file_bytes": monitor.peak["RssFile"],
                "K": int(sel.n_clusters_),
                "beta": sel.beta_,
                "epochs": int(sel.scorer_.epochs_),
                "selected": int(sel.n_selected_),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    parser.add_argument("--log", type=Path, default=None, help="the fit's progress report")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    path = ensure_data(args.workdir, args.n, args.dim, 0, args.dtype)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    log = open(args.log, "w") if args.log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    data = os.path.getsize(path)
    print(
        f"| {args.n:,} x {args.dim} {args.dtype} | {out['wall_s']:.1f} s | "
        f"{out['peak_rss_bytes'] / 1e9:.2f} GB | {data / 1e9:.2f} GB | "
        f"{out['peak_rss_bytes'] / data:.2f} | K={out['K']}, {out['epochs']} epochs, "
        f"beta={out['beta']} | {out['peak_anon_bytes'] / 1e9:.2f} GB / "
        f"{out['peak_file_bytes'] / 1e9:.2f} GB |"
    )


if __name__ == "__main__":
    main()
