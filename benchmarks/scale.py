"""Scale benchmark: wall time and peak RSS per ELFS stage on 10k / 100k / 1M x 768 embeddings.

Data: synthetic clustered embeddings (``--clusters`` clusters of equal expected size; each
row = its cluster's centre + a point of the cluster's own ``--latent-dim``-dimensional
subspace + isotropic noise, L2-normalised, float32), generated chunk by chunk with a fixed
seed straight into ``WORKDIR/emb_n{n}_d{d}_s{seed}.npy`` (reused when present) and opened
with ``np.load(mmap_mode="r")``, so the pipeline reads a memory map, as a user with a
million embeddings on disk would.

Every stage runs in a fresh Python process, so its peak RSS (``ru_maxrss`` of that
process: torch and scikit-learn imports, the pages of the memory map it touched, and the
stage's own memory) is its own. Stages, in pipeline order, with the components built
exactly as ``ELFSSelector._make_components`` builds them for that setting:

``knn``         ``skelfs.neighbors.kneighbors(X, 50, backend="auto")``: the cosine kNN graph
                that TEMI deep clustering needs; the default k-means pipeline does **not**
                run it (measured once per n, under the default setting).
``clustering``  pseudo-labels (``KMeansClusterer``).
``dynamics``    proxy training dynamics (``DynamicsScorer``); also reports the achieved
                GFLOP/s of its training loop: 4 n d K FLOPs per epoch for the linear head
                (forward 2ndK, weight gradient 2ndK; the input needs no gradient, so the
                usual 6ndK rule would overcount).
``auto_beta``   the label-free beta search (only when the setting has ``beta="auto"``).
``pruning``     double-end pruning with the chosen beta.
``end_to_end``  ``ELFSSelector(**setting).fit(X)`` in one process; checked against the
                staged pipeline's selection.

Settings (``--settings``, see ``SETTINGS``): ``default`` is ``ELFSSelector(budget=0.1)``;
``proposed`` trains the proxy head for 5 epochs of batch 1024 instead of 20 of batch 256
(the large-n proposal of docs/benchmarks.md); ``fast`` also fixes beta=0.1 and runs one
k-means restart. Next to them: a plain torch float32
matmul (4096x768 @ 768x512) for the machine's practical GFLOP/s, and what the official
ELFS code's dense n x n similarity matrix costs (n^2 * 4 bytes; a float32 ``X @ X.T``
timed where it fits, extrapolated as n^2 beyond, and marked so).

Examples
--------
PYTHONPATH=. python benchmarks/scale.py --sizes 10000 100000 --out-csv /tmp/s.csv \
    --out-md /tmp/s.md
flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/scale.py \
    --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STAGES = ("knn", "clustering", "dynamics", "auto_beta", "pruning", "end_to_end")
K_NEIGHBORS = 50
BUDGET = 0.1

# name -> (ELFSSelector keyword arguments, short description for the report)
SETTINGS = {
    "default": (
        {},
        "ELFSSelector(budget=0.1): k-means n_init='auto' (1 restart above 50k rows), "
        "epochs='auto' (5 from 102,400 rows) of batch 256, beta='auto'",
    ),
    "proposed": (
        {"scorer": ("DynamicsScorer", {"epochs": 5, "batch_size": 1024})},
        "the large-n proposal: 5 epochs of batch 1024, everything else default (beta='auto')",
    ),
    "fast": (
        {
            "beta": 0.1,
            "clusterer": ("KMeansClusterer", {"n_init": 1}),
            "scorer": ("DynamicsScorer", {"epochs": 5, "batch_size": 1024}),
        },
        "k-means n_init=1, 5 epochs of batch 1024, beta=0.1 fixed",
    ),
}


# -- data ---------------------------------------------------------------------------------
def data_path(workdir, n, d, seed, dtype="float32"):
    suffix = "" if dtype == "float32" else f"_{dtype}"
    return Path(workdir) / f"emb_n{n}_d{d}_s{seed}{suffix}.npy"


def make_embeddings(
    path, n, d, *, seed=0, n_clusters=100, latent_dim=16, chunk=65536, dtype="float32"
):
    """Write ``n`` clustered, L2-normalised rows (``dtype``) to ``path`` chunk by chunk.

    Chunk ``c`` draws from ``default_rng([seed, c])``, so the file depends only on
    (n, d, seed, n_clusters, latent_dim, chunk), and memory stays ``O(chunk * d)``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d), dtype=np.float32) / np.sqrt(d)
    bases = rng.standard_normal((n_clusters, latent_dim, d), dtype=np.float32) / np.sqrt(d)
    tmp = Path(str(path) + ".part")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(n, d))
    for c, start in enumerate(range(0, n, chunk)):
        crng = np.random.default_rng([seed, c])
        m = min(chunk, n - start)
        labels = np.sort(crng.integers(n_clusters, size=m))  # sorted: contiguous runs
        block = 0.3 / np.sqrt(d) * crng.standard_normal((m, d), dtype=np.float32)
        block += centres[labels]
        z = 0.5 * crng.standard_normal((m, latent_dim), dtype=np.float32)
        bounds = np.searchsorted(labels, np.arange(n_clusters + 1))
        for k in range(n_clusters):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:
                block[lo:hi] += z[lo:hi] @ bases[k]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block[crng.permutation(m)]  # clusters interleaved
    out.flush()
    del out
    os.replace(tmp, path)


def ensure_data(workdir, n, d, seed, dtype="float32"):
    path = data_path(workdir, n, d, seed, dtype)
    if not path.exists():
        Path(workdir).mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        make_embeddings(path, n, d, seed=seed, dtype=dtype)
        print(f"  generated {path} in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


# -- machine ------------------------------------------------------------------------------
def machine_info():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "load_avg_at_start": os.getloadavg()[0],
        # Every stage but kNN runs on it when present (device="auto"); the matmul
        # reference and the dense baseline stay on the CPU.
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def proxy_loop_flops(n, d, k, epochs):
    """FLOPs of the linear proxy head's matrix products: per epoch and row, the logits
    (2 d K) and the weight gradient (2 d K); the per-row softmax and update not counted."""
    return 4.0 * n * d * k * epochs


def matmul_gflops(n_jobs=None, repeats=50):
    """Practical float32 matmul speed: 4096x768 @ 768x512, torch, ``n_jobs`` threads."""
    import torch

    from skelfs._threads import limit_threads

    with limit_threads(n_jobs):
        return _matmul_gflops(torch, repeats)


def _matmul_gflops(torch, repeats):
    a = torch.randn(4096, 768)
    b = torch.randn(768, 512)
    for _ in range(5):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    dt = time.perf_counter() - t0
    return 2 * 4096 * 768 * 512 * repeats / dt / 1e9


# -- one stage in a child process ----------------------------------------------------------
def _rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _build_selector(setting, n, n_jobs):
    from skelfs import DynamicsScorer, ELFSSelector, KMeansClusterer
    from skelfs._utils import floor_count
    from skelfs.selector import MAX_AUTO_CLUSTERS

    kwargs = dict(SETTINGS[setting][0])
    n_select = floor_count(BUDGET, n)
    if "clusterer" in kwargs:  # an instance keeps its own n_clusters: use the selector's rule
        params = dict(kwargs["clusterer"][1])
        params["n_clusters"] = min(max(2, n_select // 2), MAX_AUTO_CLUSTERS, n)
        kwargs["clusterer"] = KMeansClusterer(**params)
    if "scorer" in kwargs:
        kwargs["scorer"] = DynamicsScorer(**kwargs["scorer"][1])
    return ELFSSelector(budget=BUDGET, random_state=0, n_jobs=n_jobs, **kwargs), n_select


def run_stage(stage, path, setting, workdir, n_jobs):
    """Run one stage in this (fresh) process; return a dict of measurements."""
    import torch  # noqa: F401  (imported before the RSS baseline, as every stage needs it)

    from skelfs._threads import limit_threads

    with limit_threads(n_jobs):  # what ELFSSelector(n_jobs=...) does around its own fit
        return _run_stage(stage, path, setting, workdir, n_jobs)


def _run_stage(stage, path, setting, workdir, n_jobs):
    from sklearn.utils import check_random_state

    from skelfs._utils import resolve_device
    from skelfs.neighbors import kneighbors
    from skelfs.selector import _auto_beta

    X = np.load(path, mmap_mode="r")
    n, d = X.shape
    sel, n_select = _build_selector(setting, n, n_jobs)
    stem = Path(workdir) / f"state_{setting}_n{n}"
    rng = check_random_state(sel.random_state)
    clusterer, scorer, pruner, wanted_beta = sel._make_components(n, n_select, rng)
    out = {"rss_before_mb": _rss_mb()}
    t0 = time.perf_counter()
    if stage == "knn":
        dist, _ = kneighbors(X, K_NEIGHBORS, backend="auto", random_state=0)
        out["detail"] = f"k={K_NEIGHBORS}"
    elif stage == "clustering":
        labels = clusterer.fit(X).labels_
        np.save(f"{stem}_labels.npy", labels)
        out["detail"] = f"K={clusterer.n_clusters_}, n_iter={clusterer.n_iter_}"
    elif stage == "dynamics":
        labels = np.load(f"{stem}_labels.npy")
        import torch

        train_time, beside = [], []
        original = type(scorer)._train

        def timed_train(self, *args, **kwargs):
            # The matmul reference right before and after the loop, in this process: the
            # host's speed drifts within a run, so the parent's one figure is a poor yardstick.
            beside.append(_matmul_gflops(torch, 50))
            t = time.perf_counter()
            result = original(self, *args, **kwargs)
            train_time.append(time.perf_counter() - t)
            beside.append(_matmul_gflops(torch, 50))
            return result

        type(scorer)._train = timed_train
        scores = scorer.fit(X, labels).scores_
        np.save(f"{stem}_scores.npy", scores)
        k = np.unique(labels).size
        flops = proxy_loop_flops(n, d, k, scorer.epochs_)
        out["train_s"] = train_time[0]
        out["gflops"] = flops / train_time[0] / 1e9
        out["matmul_gflops"] = sum(beside) / len(beside)
        out["detail"] = (
            f"K={k}, epochs={scorer.epochs_}, batch={scorer.batch_size}, "
            f"train acc {scorer.train_accuracy_:.3f}"
        )
    elif stage == "auto_beta":
        labels = np.load(f"{stem}_labels.npy")
        scores = np.load(f"{stem}_scores.npy")
        beta, results = _auto_beta(
            X, labels, scores, n_select, pruner, rng, device=resolve_device(sel.device)
        )
        Path(f"{stem}_beta.json").write_text(json.dumps(beta))
        out["detail"] = f"beta={beta}"
    elif stage == "pruning":
        labels = np.load(f"{stem}_labels.npy")
        scores = np.load(f"{stem}_scores.npy")
        beta = (
            json.loads(Path(f"{stem}_beta.json").read_text())
            if wanted_beta == "auto"
            else wanted_beta
        )
        idx = pruner.select(scores, n_select, groups=labels, beta=beta)
        np.save(f"{stem}_staged_idx.npy", np.sort(idx))
        out["detail"] = f"beta={beta}, selected {idx.size}"
    elif stage == "end_to_end":
        sel.fit(X)
        idx = sel.get_support(indices=True)
        staged = Path(f"{stem}_staged_idx.npy")
        same = np.array_equal(np.load(staged), idx) if staged.exists() else None
        out["detail"] = (
            f"K={sel.n_clusters_}, beta={sel.beta_}, selected {idx.size}, "
            f"same rows as staged: {same}"
        )
    else:
        raise ValueError(stage)
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def dense_similarity(n, d, seed=0):
    """Time and memory of the official code's dense n x n float32 similarity X @ X.T."""
    import torch

    torch.manual_seed(seed)
    X = torch.randn(n, d)
    X = X / X.norm(dim=1, keepdim=True)
    t0 = time.perf_counter()
    S = X @ X.T
    wall = time.perf_counter() - t0
    del S
    return {
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_main(args):
    if args.child == "dense":
        from skelfs._threads import limit_threads

        with limit_threads(args.n_jobs):
            out = dense_similarity(args.n, args.dim)
    else:
        path = data_path(args.workdir, args.n, args.dim, args.seed)
        out = run_stage(args.child, path, args.setting, args.workdir, args.n_jobs)
    print("RESULT " + json.dumps(out), flush=True)


def spawn(args, child, n, setting="default", timeout=None):
    cmd = [
        sys.executable,
        __file__,
        "--child",
        child,
        "--n",
        str(n),
        "--dim",
        str(args.dim),
        "--seed",
        str(args.seed),
        "--workdir",
        str(args.workdir),
        "--setting",
        setting,
    ]
    if args.n_jobs is not None:
        cmd += ["--n-jobs", str(args.n_jobs)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout} s", "wall_s": time.perf_counter() - t0}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"status": "failed: " + " | ".join(tail)}
    out = json.loads(lines[-1][len("RESULT ") :])
    out["status"] = "ok"
    return out


# -- report -------------------------------------------------------------------------------
FIELDS = [
    "n",
    "d",
    "setting",
    "stage",
    "status",
    "wall_s",
    "peak_rss_mb",
    "rss_before_mb",
    "data_mb",
    "peak_over_data",
    "gflops",
    "matmul_gflops",
    "train_s",
    "detail",
    "load_avg",
]


def loglog_slope(ns, ts):
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    ok = np.isfinite(ts) & (ts > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns[ok]), np.log(ts[ok]), 1)[0])


def _f(x, fmt="{:.1f}"):
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else fmt.format(x)


def _gb(mib):
    return mib * 2**20 / 1e9


def write_markdown(path, rows, meta):
    """Markdown report from the CSV rows and the run's metadata (machine, matmul, command)."""
    machine = meta["machine"]
    dim = meta["dim"]
    by = {(int(r["n"]), r["setting"], r["stage"]): r for r in rows}
    sizes = sorted({int(r["n"]) for r in rows if r["setting"] in SETTINGS})
    settings = [s for s in SETTINGS if any(r["setting"] == s for r in rows)]
    lines = [
        "# Scale benchmark",
        "",
        f"Command: `{meta['command_line']}`",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM, "
        f"torch {machine['torch']} ({machine['torch_threads']} threads; stages ran with "
        f"n_jobs={machine['n_jobs']}), numpy {machine['numpy']}, Python {machine['python']}; "
        f"1-min load average {machine['load_avg_at_start']:.1f} at the start (per stage in "
        "the CSV). "
        + (
            f"GPU: {machine['gpu']} (clustering, dynamics and beta search ran on it; the "
            "matmul reference is the CPU's)."
            if machine.get("gpu")
            else "No GPU."
        ),
        "",
        f"Plain torch float32 matmul (4096x768 @ 768x512): **{meta['matmul_gflops']:.0f} "
        "GFLOP/s**.",
        "",
        f"Data: synthetic clustered embeddings, d = {dim}, float32 memory map. Each cell: wall "
        "time, peak RSS of that stage's own fresh process (imports, touched pages of the "
        "memory map, the stage), and for the dynamics the achieved GFLOP/s of the training "
        "loop, against the same matmul measured in that process right before and after the "
        "loop (the mean of the two). GB = 10^9 bytes.",
        "",
    ]
    for setting in settings:
        lines += [
            f"## Setting `{setting}`: {SETTINGS[setting][1]}",
            "",
            "| stage | " + " | ".join(f"n = {n:,}" for n in sizes) + " | exponent |",
            "|---|" + "---|" * (len(sizes) + 1),
        ]
        for stage in STAGES:
            cells, pts = [], []
            for n in sizes:
                r = by.get((n, setting, stage))
                if r is None:
                    cells.append("–")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    wall, rss = float(r["wall_s"]), float(r["peak_rss_mb"])
                    pts.append((n, wall))
                    cell = f"{wall:.1f} s, {_gb(rss):.2f} GB"
                    if stage == "dynamics" and r.get("gflops"):
                        cell += f", {float(r['gflops']):.0f} GFLOP/s"
                        if r.get("matmul_gflops"):  # absent in CSVs from before this column
                            ratio = float(r["gflops"]) / float(r["matmul_gflops"])
                            cell += f" ({ratio:.0%} of the matmul beside it)"
                    cells.append(cell)
            if pts:
                label = stage + (" (TEMI only)" if stage == "knn" else "")
                slope = loglog_slope(*zip(*pts)) if len(pts) > 1 else float("nan")
                lines.append(f"| {label} | " + " | ".join(cells) + f" | {_f(slope, '{:.2f}')} |")
        lines.append(
            "| data size | " + " | ".join(f"{n * dim * 4 / 1e9:.2f} GB" for n in sizes) + " | |"
        )
        ratio = []
        for n in sizes:
            r = by.get((n, setting, "end_to_end"))
            ok = r is not None and r["status"] == "ok"
            ratio.append(f"{_gb(float(r['peak_rss_mb'])) * 1e9 / (n * dim * 4):.2f}" if ok else "–")
        lines.append("| end-to-end peak RSS / data size | " + " | ".join(ratio) + " | |")
        lines.append("")
    lines += [
        "Exponent: least-squares slope of log(wall time) on log(n) over the sizes in the "
        "row (1 = linear in n). Fixed costs (k-means++ on a bounded sample, the "
        "beta='auto' probes on at most 50k rows) flatten it at small n.",
        "",
        "## The official approach: a dense n x n similarity matrix",
        "",
        "| n | memory (n² · 4 B) | X @ X.T time (float32, torch) |",
        "|---|---|---|",
    ]
    for r in rows:
        if r["setting"] == "official_dense":
            lines.append(
                f"| {int(r['n']):,} | {float(r['data_mb']) * 2**20 / 1e9:,.2f} GB | {r['detail']} |"
            )
    lines.append("")
    Path(path).write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="ELFSSelector(n_jobs=...) for every stage (None: all cores)",
    )
    parser.add_argument(
        "--knn-max", type=int, default=1_000_000, help="skip the kNN stage above this many rows"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed per stage process"
    )
    parser.add_argument("--dense-sizes", type=int, nargs="*", default=[10_000, 20_000, 40_000])
    parser.add_argument("--out-csv", type=Path, default=HERE / "results" / "scale.csv")
    parser.add_argument("--out-md", type=Path, default=HERE / "results" / "scale.md")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of an existing --out-csv that this run does not "
        "re-measure (e.g. to redo cells that another job disturbed)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild --out-md from --out-csv and its .json metadata",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--setting", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return
    meta_path = args.out_csv.with_suffix(".json")
    if args.report_only:
        with open(args.out_csv, newline="") as fh:
            rows = list(csv.DictReader(fh))
        write_markdown(args.out_md, rows, json.loads(meta_path.read_text()))
        return
    command_line = "python benchmarks/scale.py " + " ".join(sys.argv[1:])

    machine = machine_info()
    mm = matmul_gflops(args.n_jobs)
    machine["n_jobs"] = args.n_jobs
    print(f"machine: {machine}\nmatmul: {mm:.0f} GFLOP/s", flush=True)
    rows = []
    old_rows, old_meta = [], None
    if args.merge and args.out_csv.exists():
        with open(args.out_csv, newline="") as fh:
            old_rows = list(csv.DictReader(fh))
        if meta_path.exists():  # the first run's metadata, when it was kept
            old_meta = json.loads(meta_path.read_text())
    args.out_csv.parent.mkdir(parents=True, exist_ok=True)

    def flush_csv():
        new = {(int(r["n"]), r["setting"], r["stage"]) for r in rows}
        if any(r["setting"] == "official_dense" for r in rows):
            new |= {
                (int(r["n"]), r["setting"], r["stage"])
                for r in old_rows
                if r["setting"] == "official_dense"
            }
        kept = [r for r in old_rows if (int(r["n"]), r["setting"], r["stage"]) not in new]
        with open(args.out_csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(kept + rows)

    for n in args.sizes:
        ensure_data(args.workdir, n, args.dim, args.seed)
        data_mb = n * args.dim * 4 / 2**20
        for setting in args.settings:
            for stage in args.stages:
                if stage == "knn" and (setting != "default" or n > args.knn_max):
                    continue
                if stage == "auto_beta" and SETTINGS[setting][0].get("beta", "auto") != "auto":
                    continue
                load = os.getloadavg()[0]
                r = spawn(args, stage, n, setting, timeout=args.timeout)
                r.update(
                    n=n,
                    d=args.dim,
                    setting=setting,
                    stage=stage,
                    data_mb=data_mb,
                    load_avg=round(load, 2),
                )
                if "peak_rss_mb" in r:
                    r["peak_over_data"] = r["peak_rss_mb"] / data_mb
                rows.append(r)
                print(
                    f"n={n} {setting:8s} {stage:11s} {r['status']:>4s} "
                    f"{_f(r.get('wall_s'))} s  peak {_f(r.get('peak_rss_mb'), '{:.0f}')} MB  "
                    f"{r.get('detail', '')}",
                    flush=True,
                )
                flush_csv()

    dense_rows = []
    measured = []
    for n in args.dense_sizes:
        r = spawn(args, "dense", n, timeout=args.timeout)
        if r["status"] == "ok":
            measured.append((n, r["wall_s"]))
            dense_rows.append(
                {
                    "n": n,
                    "time": f"{r['wall_s']:.1f} s (measured, peak RSS "
                    f"{_gb(r['peak_rss_mb']):.1f} GB)",
                }
            )
    if measured:
        n0, t0 = measured[-1]
        for n in args.sizes:
            if n > n0:
                fits = n * n * 4 / 2**30 <= machine["ram_gib"]
                dense_rows.append(
                    {
                        "n": n,
                        "time": f"≈ {t0 * (n / n0) ** 2:,.0f} s "
                        f"(**extrapolated** as n² from {n0:,}"
                        + ("" if fits else f"; does not fit in {machine['ram_gib']} GiB RAM")
                        + ")",
                    }
                )
    for r in dense_rows:
        rows.append(
            {
                "n": r["n"],
                "d": args.dim,
                "setting": "official_dense",
                "stage": "dense_similarity",
                "status": "ok",
                "detail": r["time"],
                "data_mb": r["n"] ** 2 * 4 / 2**20,
            }
        )
    flush_csv()
    meta = {"machine": machine, "matmul_gflops": mm, "command_line": command_line, "dim": args.dim}
    if old_meta is not None:  # the first run's machine line; both commands
        meta = dict(old_meta, command_line=f"{old_meta['command_line']}`, then `{command_line}")
    meta_path.write_text(json.dumps(meta, indent=1))
    with open(args.out_csv, newline="") as fh:
        write_markdown(args.out_md, list(csv.DictReader(fh)), meta)
    print(f"wrote {args.out_csv}, {meta_path} and {args.out_md}", flush=True)


if __name__ == "__main__":
    main()
