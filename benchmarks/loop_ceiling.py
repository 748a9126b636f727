"""How close can the proxy loop get to the plain matmul? The loop against its own GEMMs.

Issue 16 asks the proxy training loop (``DynamicsScorer``'s linear head, the default) to
run at >= 70% of a plain float32 matmul's GFLOP/s. This script times, in one process,
two versions of the same loop (``DynamicsScorer._train``: the same chunked reads from
the memory map, standardisation, batch order and Python loop):

- ``loop``: the loop as it ships.
- ``gemms only``: each step keeps only its two matrix products (the logits
  ``x W^T + b`` and the weight gradient ``residual^T x`` accumulated into the momentum
  buffer); no softmax, no parameter update, no recording. No fused kernel for the
  per-row work can make the loop faster than this.

and the plain matmul of ``benchmarks/scale.py`` (4096x768 @ 768x512) right before and
after each. GFLOP/s counts the loop's 4 n d K FLOPs per epoch for every version, so each
is comparable with the matmul. Labels are random (the loop's cost does not depend on
their values); ``K`` is the default selector's pseudo-label count at 100k-1M rows.

Command (alone on the machine)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/loop_ceiling.py \\
        --n 100000 --out-md benchmarks/results/loop_ceiling.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import _matmul_gflops, ensure_data, machine_info, proxy_loop_flops  # noqa: E402

VARIANTS = ("loop", "gemms only")


def gemms_only_step(head, weight_decay, momentum=0.9):
    """The linear step's two matrix products, as ``dynamics.sgd_step`` issues them."""
    import torch

    linear = head[1]
    w_buf = torch.zeros_like(linear.weight)

    @torch.no_grad()
    def step(xb, yb, lr, log_p, residual):
        torch.addmm(linear.bias, xb, linear.weight.t(), out=log_p)
        w_buf.addmm_(residual.t(), xb, beta=momentum, alpha=1.0 / yb.shape[0])

    return step


def time_variant(variant, X, y, epochs):
    """Seconds of ``_train`` for one variant, and the matmul GFLOP/s beside it."""
    import torch

    from skelfs import dynamics

    shipped_step, shipped_update = dynamics.sgd_step, dynamics._RunningDynamics.update
    if variant == "gemms only":
        dynamics.sgd_step = gemms_only_step
        dynamics._RunningDynamics.update = lambda self, *a, **kw: None
    scorer = dynamics.DynamicsScorer(epochs=epochs, random_state=0)
    original, seconds = type(scorer)._train, []

    def timed_train(self, *args, **kwargs):
        t = time.perf_counter()
        result = original(self, *args, **kwargs)
        seconds.append(time.perf_counter() - t)
        return result

    type(scorer)._train = timed_train
    try:
        before = _matmul_gflops(torch, 50)
        scorer.fit(X, y)
        after = _matmul_gflops(torch, 50)
    finally:
        type(scorer)._train = original
        dynamics.sgd_step, dynamics._RunningDynamics.update = shipped_step, shipped_update
    return seconds[0], (before + after) / 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n-classes", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/skelfs_scale")
    parser.add_argument("--out-md", default=None)
    args = parser.parse_args(argv)

    from skelfs._threads import limit_threads

    path = ensure_data(Path(args.workdir), args.n, args.dim, seed=0)
    X = np.load(path, mmap_mode="r")
    y = np.random.default_rng(0).integers(args.n_classes, size=args.n)
    flops = proxy_loop_flops(args.n, args.dim, args.n_classes, args.epochs)
    runs = {v: [] for v in VARIANTS}
    with limit_threads(None):
        for r in range(args.repeats):  # interleaved, so drift of the host hits all alike
            for variant in VARIANTS:
                seconds, matmul = time_variant(variant, X, y, args.epochs)
                runs[variant].append((seconds, flops / seconds / 1e9, matmul))
                print(
                    f"repeat {r} {variant:18s} {seconds:6.2f} s "
                    f"{flops / seconds / 1e9:5.0f} GFLOP/s, matmul {matmul:.0f}",
                    file=sys.stderr,
                    flush=True,
                )

    info = machine_info()
    lines = [
        "# The proxy loop against its own matrix products",
        "",
        "Command: `python benchmarks/loop_ceiling.py "
        + " ".join(sys.argv[1:] if argv is None else argv)
        + "`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}. "
        f"Data: {args.n:,} x {args.dim} float32 memory map (`benchmarks/scale.py`'s), "
        f"K = {args.n_classes} random labels, {args.epochs} epochs of batch 256. "
        f"Median of {args.repeats} interleaved repeats; each GFLOP/s counts the loop's "
        "4 n d K FLOPs per epoch, and each matmul figure is the mean of the one right "
        "before and right after that run.",
        "",
        "| version | loop time | GFLOP/s | plain matmul GFLOP/s | % of the matmul |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        seconds = statistics.median(s for s, _, _ in runs[variant])
        rate = statistics.median(g for _, g, _ in runs[variant])
        matmul = statistics.median(m for _, _, m in runs[variant])
        lines.append(
            f"| {variant} | {seconds:.2f} s | {rate:.0f} | {matmul:.0f} | {rate / matmul:.0%} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out_md:
        Path(args.out_md).write_text(text)


if __name__ == "__main__":
    main()
