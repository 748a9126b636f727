"""Wall time and peak memory of the coverage selectors (the CLI's default) at scale.

``skelfs select`` without ``--method`` runs ``FacilityLocationSelector`` (the method that
measured best overall in docs/quality.md), so its cost at 100k-1M rows is what a user of the
command pays. Each (selector, n) runs in a fresh process on the synthetic clustered float32
memmap of ``benchmarks/scale.py`` (same generator, same files), with the library defaults
(``backend="auto"``: exact search up to 50k rows, then pynndescent / faiss); the child reports
its wall time and peak RSS (``ru_maxrss``), compared with the size of the data.

Command (results in docs/benchmarks.md, "Coverage selectors at scale")::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/coverage_scale.py \
        --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import ensure_data  # noqa: E402  (the data generator of the scale benchmark)


def child(path, method, budget):
    import skelfs

    X = np.load(path, mmap_mode="r")
    t0 = time.perf_counter()
    sel = skelfs.make_selector(method, budget=budget, random_state=0).fit(X)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss": rss, "n_selected": sel.n_selected_}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--methods", nargs="+", default=["facility_location", "maxherding"])
    ap.add_argument("--budget", type=float, default=0.1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], float(args.child[2]))
    print("| method | n x d | seconds | peak RSS (GB) | RSS / data |\n|---|---|---|---|---|")
    for n in args.sizes:
        path = ensure_data(args.workdir, n, args.dim, 0)
        data_bytes = n * args.dim * 4
        for method in args.methods:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), method, str(args.budget)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {method} | {n} x {args.dim} | {r['seconds']:.1f} | "
                f"{r['peak_rss'] / 1e9:.2f} | {r['peak_rss'] / data_bytes:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
