"""A default ELFS fit beside a busy process: how much slower, against the cores lost.

Each fit runs in a fresh process on the ``benchmarks/scale.py`` synthetic memory map
(``--n`` x 768 float32, generated there when missing), first on idle cores, then beside
one busy single-threaded Python process (``while True: pass``), which takes one core of
two. ``n_jobs=None`` is the default (the thread governor of ``skelfs/_threads.py``
lowers torch's threads while other processes keep cores busy); ``n_jobs=2`` fixes two
threads, as the default did before. The selections of every run must be identical.

Command (alone on the machine)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/under_load.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import ensure_data  # noqa: E402


def child(path, n_jobs, out):
    from skelfs import ELFSSelector

    X = np.load(path, mmap_mode="r")
    t0 = time.perf_counter()
    sel = ELFSSelector(budget=0.1, random_state=0, n_jobs=n_jobs).fit(X)
    wall = time.perf_counter() - t0
    np.save(out, sel.sample_indices_)
    print(json.dumps({"wall_s": wall, "beta": sel.beta_, "K": int(sel.n_clusters_)}))


def run(path, n_jobs, out, busy):
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if hog is not None:
            time.sleep(1.0)  # let it take its core
        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(path), str(n_jobs), str(out)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    parser.add_argument("--n-jobs", nargs="+", default=["None", "2"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, n_jobs, out = args.child
        child(path, None if n_jobs == "None" else int(n_jobs), out)
        return
    path = ensure_data(args.workdir, args.n, 768, 0)
    print(f"# {args.n} x 768 float32 memmap, ELFSSelector(budget=0.1), {os.cpu_count()} cores")
    print("| n_jobs | idle | beside 1 busy process | slowdown |")
    print("|---|---|---|---|")
    selections = {}
    for value in args.n_jobs:
        times = {}
        for busy in (False, True):
            out = args.workdir / f"load_sel_{value}_{int(busy)}.npy"
            times[busy] = run(path, value, out, busy)["wall_s"]
            selections[(value, busy)] = np.load(out)
        print(
            f"| {value} | {times[False]:.1f} s | {times[True]:.1f} s | "
            f"{times[True] / times[False]:.2f}x |",
            flush=True,
        )
    first = next(iter(selections.values()))
    same = all(np.array_equal(first, s) for s in selections.values())
    print(f"\nselections identical across all runs: {same}")


if __name__ == "__main__":
    main()
