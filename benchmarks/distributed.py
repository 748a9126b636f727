"""Selection over shards (skelfs.distributed) against one process, and a projection to 100M-1B
rows.

Data: the synthetic clustered float32 embeddings of ``benchmarks/scale.py`` (same generator,
same files), cut into ``--shards`` ``.npy`` shards in ``WORKDIR/shards_n{n}_d{d}/``. Each run
is a fresh process and selects ``--budget`` of the pool with the defaults of ``--method``
(``elfs`` or ``facility_location``):

``one process``      ``ELFSSelector`` / ``FacilityLocationSelector`` on the memory map (the
                     reference);
``select_shard``     (ELFS) ``skelfs.distributed.select_shard`` in one process on the memory
                     map: the sharded stage code without collectives;
``ray N workers``    ``skelfs.distributed.select`` on a local Ray cluster (Ray start-up
                     included, and also timed on its own), N CPU workers on the shards.

Wall time is the child's, end to end. Peak RSS: the child's (``ru_maxrss``) for the
single-process runs; for Ray, each worker's own ``ru_maxrss``, measured inside the worker
and returned through Ray Train's metrics (``select(..., return_metrics=True)``), and the
driver's.

Facility location's quality against one process, on ``--probe`` rows drawn at random:
the recall of each run's kNN lists against an exact search of those rows over the whole
pool, and the objective ``F(S) = sum_i max_{j in S} sim(i, j)`` of each selection on the
exact 20-NN graph, estimated from the probe rows (n / m times their sum; the same rows
for every selection, so the ratio is what matters).

Then the projection: bytes read, all-reduce and gather sizes, memory per worker, and
wall time for 100M and 1B rows of 384-d float16 on N GPUs, with the arithmetic printed
next to every figure (assumptions stated; nothing there is measured).

Commands (results in docs/distributed.md)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/distributed.py \
        --n 1000000 --shards 8 --workers 1 2
    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/distributed.py \
        --n 200000 --shards 4 --workers 1 2 --method facility_location
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

from skelfs._utils import resolve_device  # noqa: E402


def make_shards(path, n_shards):
    """Cut the memory map at ``path`` into ``n_shards`` .npy files (reused when present)."""
    X = np.load(path, mmap_mode="r")
    folder = path.parent / f"shards_{path.stem}_{n_shards}"
    if not (folder / f"part-{n_shards - 1:04d}.npy").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for i, (a, b) in enumerate(zip(*_edges(X.shape[0], n_shards))):
            np.save(folder / f"part-{i:04d}.npy", np.asarray(X[a:b]))
    return folder


def _edges(n, k):
    e = np.linspace(0, n, k + 1).astype(int)
    return e[:-1], e[1:]


def child(method, kind, data, budget, workers, out):
    import skelfs
    from skelfs.baselines.facility_location import FacilityLocationSelector
    from skelfs.distributed import select, select_shard

    t0 = time.perf_counter()
    extra = {}
    if kind == "one_process":
        X = np.load(data, mmap_mode="r")
        if method == "elfs":
            selector = skelfs.ELFSSelector(budget=budget, random_state=0)
        else:
            selector = FacilityLocationSelector(budget=budget, random_state=0)
        rows = selector.fit(X).get_support(indices=True)
    elif kind == "select_shard":
        rows = select_shard(np.load(data, mmap_mode="r"), budget=budget, random_state=0)
    else:
        import ray

        ray.init(num_cpus=max(2, workers), include_dashboard=False, log_to_driver=False)
        extra["ray_start_s"] = time.perf_counter() - t0
        probe = _probe_rows(sum(np.load(p, mmap_mode="r").shape[0] for p in _shards(data)))
        rows, metrics = select(
            str(Path(data) / "*.npy"),
            method=method,
            budget=budget,
            num_workers=workers,
            return_metrics=True,
            _probe_rows=probe if method == "facility_location" else None,
        )
        if "probe_neighbors" in metrics:
            np.save(Path(out).with_suffix(".probe.npy"), metrics.pop("probe_neighbors"))
        extra.update(metrics, stage_seconds=metrics.pop("seconds"))
    seconds = time.perf_counter() - t0
    np.save(out, rows)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss": rss, "n": int(rows.size), **extra}))


def _shards(folder):
    return sorted(Path(folder).glob("*.npy"))


PROBE_SEED = 12345


def _probe_rows(n, m=2000):
    """The rows whose neighbours and coverage are compared (sorted, the same every run)."""
    return np.sort(np.random.default_rng(PROBE_SEED).choice(n, size=min(m, n), replace=False))


def run_child(method, kind, data, budget, workers, out):
    cmd = [sys.executable, __file__, "--child", method, kind, str(data), str(budget)]
    cmd += [str(workers), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe_quality(path, selections, probes, k=20):
    """Recall of kNN lists and estimated objective ratios on the probe rows (see above)."""
    from skelfs.neighbors import _exact_search_rows

    X = np.load(path, mmap_mode="r")
    rows = _probe_rows(X.shape[0])
    distances, indices = _exact_search_rows(X, rows, k, 4096, resolve_device("cpu"))
    out = {}
    for name, selected in selections.items():
        chosen = np.zeros(X.shape[0], dtype=bool)
        chosen[selected] = True
        sims = np.where(chosen[indices], np.clip(1.0 - distances, 0.0, None), 0.0)
        served = np.where(chosen[rows], 1.0, sims.max(axis=1))
        out[name] = {"objective": float(served.sum()) * X.shape[0] / rows.size}
        if name in probes:  # (probe id, neighbour ids...) from the run's own graph
            theirs = probes[name]
            assert np.array_equal(theirs[:, 0], rows)
            found = (theirs[:, 1:, None] == indices[:, None, :]).any(axis=2)
            out[name]["recall"] = float(found.sum() / indices.size)
    return out


# ------------------------------------------------------------------------- projection
def projection(
    rows,
    dim,
    bytes_per_value,
    gpus,
    *,
    batch,
    epochs=20,
    k=500,
    sample=50_000,
    gpu_rows_per_s=5e7,
    disk_gb_per_s=2.0,
    step_latency_s=5e-4,
):
    """Per-worker and per-epoch costs of ELFS over ``gpus`` workers, with the arithmetic.

    Assumptions (not measured here): each GPU streams its shard at ``disk_gb_per_s`` from
    local NVMe; the linear head's forward + backward runs at ``gpu_rows_per_s`` rows per
    second at 384-d, K = 500 (4 d K = 7.7e5 FLOPs per row: far below a data-centre GPU's
    peak, so reading rows bounds it); every optimiser step costs ``step_latency_s`` of
    synchronisation (the gradient all-reduce of a few hundred kB is latency-bound: tens of
    microseconds over NVLink, hundreds across nodes, plus kernel launches). Lloyd passes:
    10, each one read of the shard.
    """
    per_worker = rows / gpus
    data_bytes = rows * dim * bytes_per_value
    shard_bytes = per_worker * dim * bytes_per_value
    sums_bytes = per_worker * 46  # 9 running sums (4-8 B each) + the pseudo-label
    steps = -(-int(rows) // batch)
    grad_bytes = (dim * k + k) * 4
    lloyd_bytes = (k * dim + k + 2) * 4
    read_s = shard_bytes / (disk_gb_per_s * 1e9)
    compute_s = per_worker / gpu_rows_per_s
    sync_s = steps * step_latency_s
    epoch_s = max(read_s, compute_s) + sync_s
    total_min = (10 * read_s + epochs * epoch_s) / 60
    return [
        ("rows per worker", f"{per_worker:.3g}", f"{rows:.0e} / {gpus}"),
        ("pool on disk", f"{data_bytes / 1e9:.0f} GB", f"{rows:.0e} x {dim} x {bytes_per_value} B"),
        ("shard per worker", f"{shard_bytes / 1e9:.1f} GB", "rows per worker x d x bytes"),
        ("running sums + labels per worker", f"{sums_bytes / 1e9:.2f} GB", "46 B per row"),
        ("bytes read per epoch (all workers)", f"{data_bytes / 1e9:.0f} GB", "the pool once"),
        ("DDP all-reduce per step", f"{grad_bytes / 1e6:.2f} MB", f"(d K + K) x 4 B, K={k}"),
        (
            "optimiser steps per epoch",
            f"{steps:.3g}",
            f"ceil(n / batch), global batch {batch} ({batch // gpus} rows per worker)",
        ),
        ("DDP all-reduce per epoch", f"{steps * grad_bytes / 1e9:.0f} GB", "steps x per step"),
        ("k-means all-reduce per Lloyd pass", f"{lloyd_bytes / 1e6:.2f} MB", "(K d + K + 2) x 4 B"),
        (
            "gathered samples (k-means++, beta)",
            f"{(3 * 4096 + sample) * dim * 4 / 1e6:.0f} MB",
            f"(12288 + {sample}) rows x d x 4 B, on every worker",
        ),
        (
            "one epoch",
            f"{epoch_s:.0f} s",
            f"max(read {read_s:.1f} s, compute {compute_s:.1f} s) + {steps:.3g} steps x "
            f"{step_latency_s * 1e3:.1f} ms",
        ),
        (
            "end to end",
            f"{total_min:.0f} min",
            f"10 Lloyd passes ({read_s:.1f} s each) + {epochs} epochs; the beta search on "
            f"{sample} rows adds about a minute",
        ),
    ]


def fl_projection(
    rows,
    dim,
    bytes_per_value,
    gpus,
    *,
    k=20,
    budget=0.01,
    net_gb_per_s=6.25,
    gpu_flop_per_s=5e13,
    heap_bytes_per_row=140,
    round_bytes=64 * 2**20,
):
    """Facility location's partition, exchange and kNN stages over ``gpus`` workers, with
    the arithmetic.

    Assumptions (not measured here): shards hold rows in no particular order, so a row's
    partition is on another worker with probability (W - 1) / W; each worker's network
    share is ``net_gb_per_s`` (a 400 Gb/s NIC shared by 8 GPUs); the exact kNN search
    sustains ``gpu_flop_per_s`` of fp32 matmul; the greedy's heap costs about
    ``heap_bytes_per_row`` of Python objects per row (tuples of gain, row, stamp).
    """
    W = gpus
    m = rows / W
    row_bytes = 8 + dim * bytes_per_value
    moved = rows * (W - 1) / W * row_bytes
    per_worker_moved = moved / W
    shard = m * dim * bytes_per_value
    knn_lists = m * k * (4 + 8)
    graph = m * (k + 1) * 32
    heap = m * heap_bytes_per_row
    normalised = m * dim * 4
    exact_flop = m * m * dim
    exact_total = 2 * shard + knn_lists + graph + heap
    approx_total = exact_total + normalised
    return [
        ("rows per worker", f"{m:.3g}", f"{rows:.0e} / {W}"),
        (
            "partitions (k-means)",
            f"{8 * W}",
            "8 per worker; a Lloyd pass all-reduces 8W x d + 8W + 1 floats",
        ),
        (
            "rows moved by the all_to_all",
            f"{rows * (W - 1) / W:.3g}",
            "n x (W - 1) / W: a row's partition is elsewhere",
        ),
        (
            "bytes moved (all workers)",
            f"{moved / 1e9:.0f} GB",
            f"moved rows x (8 B id + {dim} x {bytes_per_value} B)",
        ),
        (
            "bytes sent (and received) per worker",
            f"{per_worker_moved / 1e9:.1f} GB",
            f"in {per_worker_moved / round_bytes:.0f} rounds of 64 MiB",
        ),
        (
            "exchange time",
            f"{per_worker_moved / (net_gb_per_s * 1e9):.1f} s",
            f"at {net_gb_per_s} GB/s per worker",
        ),
        (
            "memory: own shard + received rows",
            f"{2 * shard / 1e9:.1f} GB",
            f"2 x rows per worker x d x {bytes_per_value} B",
        ),
        (
            "memory: kNN lists",
            f"{knn_lists / 1e9:.1f} GB",
            f"k = {k}: float32 distance + int64 index",
        ),
        (
            "memory: similarity graph + greedy",
            f"{(graph + heap) / 1e9:.1f} GB",
            f"(k + 1) x 32 B (CSR, its transpose, weights) + {heap_bytes_per_row} B heap per row",
        ),
        (
            "memory per worker, exact kNN (GPU)",
            f"{exact_total / 1e9:.0f} GB",
            "the four lines above",
        ),
        (
            "memory per worker, approximate kNN (CPU)",
            f"{approx_total / 1e9:.0f} GB",
            f"+ a normalised float32 copy, {normalised / 1e9:.1f} GB",
        ),
        (
            "exact kNN per worker",
            f"{exact_flop:.2g} flop, {exact_flop / gpu_flop_per_s / 60:.0f} min",
            f"(rows per worker)^2 x d (each pair of blocks once) at {gpu_flop_per_s:.0e} flop/s",
        ),
        (
            "greedy picks per worker",
            f"{budget * m:.3g}",
            f"budget {budget:.0%} x rows per worker (its share, see 'Merge')",
        ),
        (
            "merge all-reduces",
            "< 130 + a few per doubling",
            "bisection on 64-bit gain keys, then on row ids",
        ),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--budget", type=float, default=0.1)
    ap.add_argument("--method", choices=("elfs", "facility_location"), default="elfs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    ap.add_argument("--skip", nargs="*", default=[], help="runs to skip: one_process select_shard")
    ap.add_argument("--no-projection", action="store_true", help="measure only")
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        method, kind, data, budget, workers, out = args.child
        return child(method, kind, data, float(budget), int(workers), out)

    path = ensure_data(args.workdir, args.n, args.dim, 0)
    shards = make_shards(path, args.shards)
    data_gb = args.n * args.dim * 4 / 1e9
    what = f"{args.n} x {args.dim} float32 ({data_gb:.2f} GB), {args.shards} shards"
    print(f"## {args.method}: {what}\n")
    print("| run | seconds | peak RSS (GB) | RSS / data | per worker: peak RSS (GB), rows | note |")
    print("|---|---|---|---|---|---|")
    runs = [("one_process", path, 0)]
    if args.method == "elfs":
        runs.append(("select_shard", path, 0))
    runs += [("ray", shards, w) for w in args.workers]
    selections, probes = {}, {}
    for kind, data, workers in runs:
        name = f"ray, {workers} worker{'s' * (workers > 1)}" if kind == "ray" else kind
        out = args.workdir / f"selection_{args.method}_{kind}_{workers}_n{args.n}.npy"
        if kind in args.skip:
            if out.exists():  # the quality table compares with an earlier run's selection
                selections[name] = np.load(out)
            continue
        r = run_child(args.method, kind, data, args.budget, workers, out)
        selections[name] = np.load(out)
        if out.with_suffix(".probe.npy").exists() and kind == "ray":
            probes[name] = np.load(out.with_suffix(".probe.npy"))
            out.with_suffix(".probe.npy").unlink()
        rss = r["peak_rss"] / 1e9
        note, per_worker = "", "-"
        if kind == "ray":
            per_worker = ", ".join(
                f"{b / 1e9:.2f} GB, {rows}"
                for b, rows in zip(r["peak_rss_per_worker"], r["rows_per_worker"])
            )
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stage_seconds"].items())
            note = f"Ray start {r['ray_start_s']:.1f} s; driver; worker 0: {stages}"
        print(
            f"| {name} | {r['seconds']:.1f} | {rss:.2f} | {rss / data_gb:.2f} | {per_worker} "
            f"| {note} |",
            flush=True,
        )

    if args.method == "facility_location" and "one_process" in selections:
        quality = probe_quality(path, selections, probes)
        reference = quality["one_process"]["objective"]
        print(f"\n## quality on {_probe_rows(args.n).size} probe rows (exact 20-NN)\n")
        print("| run | kNN recall | objective / one process's |\n|---|---|---|")
        for name, q in quality.items():
            recall = f"{q['recall']:.4f}" if "recall" in q else "-"
            print(f"| {name} | {recall} | {q['objective'] / reference:.4f} |")

    if args.no_projection:
        return
    if args.method == "facility_location":
        for rows, gpus in ((1e8, 8), (1e9, 64)):
            print(f"\n## projection: facility location, {rows:.0e} x 384 float16 on {gpus} GPUs\n")
            print("| quantity | value | arithmetic |\n|---|---|---|")
            for q, v, how in fl_projection(rows, 384, 2, gpus):
                print(f"| {q} | {v} | {how} |")
        return
    for rows, gpus in ((1e8, 8), (1e9, 64)):
        for batch in (256, 256 * gpus):
            print(f"\n## projection: {rows:.0e} x 384 float16 on {gpus} GPUs, batch {batch}\n")
            print("| quantity | value | arithmetic |\n|---|---|---|")
            for q, v, how in projection(rows, 384, 2, gpus, batch=batch):
                print(f"| {q} | {v} | {how} |")


if __name__ == "__main__":
    main()
