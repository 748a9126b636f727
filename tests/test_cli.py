"""The ``skelfs`` command line, run as a subprocess (``python -m skelfs``) and in-process.

Every input format is exercised end to end through a real process (all started at once,
to keep the file fast); ELFS runs and the error matrix call ``skelfs.cli.main``
in-process, which is the same code path, and one real process checks the exit status
and the absence of a traceback for an error.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skelfs import ELFSSelector, KCenterGreedySelector, RandomSelector
from skelfs.cli import main, parse_budget, read_pool

REPO = Path(__file__).resolve().parents[1]
N, D = 200, 8


def _env():
    env = dict(os.environ)
    # Uninstalled checkouts work too; one thread each, as the runs share the machine.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


@pytest.fixture(scope="module")
def pool():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=4.0, size=(4, D))
    return (centers[rng.randint(4, size=N)] + rng.normal(size=(N, D))).astype(np.float32)


@pytest.fixture(scope="module")
def files(pool, tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    ids = np.array([f"row{i:03d}" for i in range(N)])
    np.save(d / "X.npy", pool)
    np.save(d / "flat.npy", pool[:, 0])
    np.savez(d / "multi.npz", emb=pool, other=pool[:, :2], ids=ids)
    table = pd.DataFrame(pool, columns=[f"f{j}" for j in range(D)])
    table.insert(0, "id", ids)
    table["note"] = "text columns are ignored"
    table.to_csv(d / "table.csv", index=False)
    lists = pd.DataFrame({"id": ids, "embedding": [str(r.tolist()) for r in pool]})
    lists.to_csv(d / "lists.csv", index=False)
    out = {"dir": d, "ids": ids}
    try:
        import pyarrow  # noqa: F401

        pd.DataFrame({"id": ids, "embedding": list(pool)}).to_parquet(d / "lists.parquet")
        out["parquet"] = d / "lists.parquet"
    except ImportError:
        pass
    return out


@pytest.fixture(scope="module")
def runs(files):
    """Every subprocess run of this file, started at once and awaited together."""
    d = files["dir"]
    commands = {
        "npy": ["select", d / "X.npy", "--budget", "20", "--method", "random", "-o", d / "npy.csv"],
        "npz": [
            "select",
            d / "multi.npz",
            "--key",
            "emb",
            "--id-column",
            "ids",
            "--budget",
            "0.1",
            "--method",
            "random",
            "-o",
            d / "npz.csv",
            "--json",
        ],
        "table": [
            "select",
            d / "table.csv",
            "--id-column",
            "id",
            "--budget",
            "15",
            "--method",
            "kcenter",
            "-o",
            d / "table_out.csv",
        ],
        "lists": [
            "select",
            d / "lists.csv",
            "--id-column",
            "id",
            "--budget",
            "20",
            "--method",
            "random",
            "--random-state",
            "3",
            "-o",
            d / "lists_out.csv",
        ],
        "missing": ["select", d / "nope.npy", "-o", d / "x.csv"],
    }
    if "parquet" in files:
        commands["parquet"] = [
            "select",
            files["parquet"],
            "--id-column",
            "id",
            "--budget",
            "20",
            "--method",
            "random",
            "-o",
            d / "parquet_out.csv",
        ]
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "skelfs", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=str(d),
        )
        for name, args in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return results


def _ok(run):
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run


def _api_rows(cls, X, **params):
    return cls(**params).fit(X).get_support(indices=True)


# -- formats, end to end ------------------------------------------------------------------
def test_npy_selects_the_budget_rows_of_the_python_api(runs, files, pool):
    _ok(runs["npy"])
    out = pd.read_csv(files["dir"] / "npy.csv")
    assert list(out.columns) == ["index"]
    assert len(out) == 20
    assert out["index"].tolist() == _api_rows(RandomSelector, pool, budget=20).tolist()
    assert "selected 20 of 200 rows" in runs["npy"].stdout


def test_npz_key_and_id_array_with_json_summary(runs, files, pool):
    run = _ok(runs["npz"])
    summary = json.loads(run.stdout)
    assert summary["n_samples"] == N and summary["n_selected"] == 20
    assert summary["method"] == "random" and summary["beta_"] is None
    assert summary["output"].endswith("npz.csv") and summary["seconds"] >= 0
    out = pd.read_csv(files["dir"] / "npz.csv")
    expected = files["ids"][_api_rows(RandomSelector, pool, budget=0.1)]
    assert list(out.columns) == ["ids"]
    assert out["ids"].tolist() == expected.tolist()


def test_csv_numeric_columns_with_id_column(runs, files, pool):
    _ok(runs["table"])
    out = pd.read_csv(files["dir"] / "table_out.csv")
    # the text column "note" is not a feature; the id column is not either
    table = pd.read_csv(files["dir"] / "table.csv")
    rows = _api_rows(
        KCenterGreedySelector, table[[f"f{j}" for j in range(D)]].to_numpy(), budget=15
    )
    assert len(out) == 15
    assert out["id"].tolist() == files["ids"][rows].tolist()
    # kcenter ranks its picks: rank is a permutation of 0..14
    assert sorted(out["rank"]) == list(range(15))


def test_csv_list_column(runs, files, pool):
    _ok(runs["lists"])
    out = pd.read_csv(files["dir"] / "lists_out.csv")
    rows = _api_rows(RandomSelector, pool, budget=20, random_state=3)
    assert out["id"].tolist() == files["ids"][rows].tolist()


def test_parquet_list_column(runs, files, pool):
    if "parquet" not in files:
        pytest.skip("pyarrow is not installed")
    _ok(runs["parquet"])
    out = pd.read_csv(files["dir"] / "parquet_out.csv")
    assert out["id"].tolist() == files["ids"][_api_rows(RandomSelector, pool, budget=20)].tolist()


def test_elfs_matches_the_python_api_and_reports_beta(capsys, files, pool):
    # In-process: the ELFS fit is the slow part, and it shares its warm-up with the API call.
    d = files["dir"]
    status, out, err = _run_main(
        capsys,
        "select",
        d / "X.npy",
        "--method",
        "elfs",
        "--budget",
        "20",
        "--beta",
        "0.1",
        "--json",
        "--device",
        "cpu",
        "-v",
        "-o",
        d / "elfs.csv",
    )
    assert status == 0, err
    summary = json.loads(out)  # stdout is the JSON object alone
    assert summary["method"] == "elfs" and summary["method_is_default"] is False
    sel = ELFSSelector(budget=20, beta=0.1, device="cpu", random_state=0).fit(pool)
    assert summary["beta_"] == 0.1 and summary["n_clusters_"] == sel.n_clusters_
    out = pd.read_csv(files["dir"] / "elfs.csv")
    assert list(out.columns) == ["index", "score", "pseudo_label"]
    assert out["index"].tolist() == sel.sample_indices_.tolist()
    np.testing.assert_allclose(out["score"], sel.scores_[sel.sample_indices_], rtol=1e-6)
    assert out["pseudo_label"].tolist() == sel.pseudo_labels_[sel.sample_indices_].tolist()
    assert "skelfs: fitting" in err  # -v talks on stderr only


def test_real_process_error_is_one_line_with_status_2(runs):
    run = runs["missing"]
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skelfs: error: ")
    assert "no such file" in lines[0]
    assert "Traceback" not in run.stderr


# -- error matrix, in-process ---------------------------------------------------------------
def _run_main(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["select", "{d}/nope.npy"], "no such file"),
        (["select", "{d}/X.npy", "--budget", "1.5"], "--budget: 1.5 is out of range"),
        (["select", "{d}/X.npy", "--budget", "-3"], "--budget: -3 is out of range"),
        (["select", "{d}/X.npy", "--budget", "abc"], "'abc' is not a number"),
        (["select", "{d}/X.npy", "--budget", "0"], "--budget: 0 is out of range"),
        (
            ["select", "{d}/X.npy", "--budget", "500", "--method", "random"],
            "budget=500 rows is out of range",
        ),
        (["select", "{d}/flat.npy"], "needs a 2-D array"),
        (["select", "{d}/multi.npz"], "choose the embeddings with --key"),
        (["select", "{d}/multi.npz", "--key", "nope"], "--key 'nope': no such array"),
        (["select", "{d}/X.npy", "--method", "magic"], "unknown method 'magic'"),
        (["select", "{d}/table.csv", "--id-column", "nope"], "--id-column 'nope': no such column"),
        (["select", "{d}/X.npy", "--id-column", "id"], "--id-column needs a table"),
        (["select", "{d}/X.npy", "--beta", "1.2"], "--beta: 1.2 is out of range"),
        (
            ["select", "{d}/X.npy", "--method", "random", "--beta", "0.1"],
            "--beta does not apply to --method random",
        ),
        (
            ["select", "{d}/X.npy", "--method", "kcenter", "--clusterer", "temi"],
            "--clusterer does not apply to --method kcenter",
        ),
        (["select", "{d}/X.npy", "--clusterer", "spectral"], "invalid choice: 'spectral'"),
        (
            ["select", "{d}/X.npy", "--method", "elfs", "--n-clusters", "1"],
            "n_clusters=1 must be at least 2",
        ),
        (["select", "{d}/X.npy", "--method", "elfs", "--device", "tpu"], 'device must be "auto"'),
        (
            ["select", "{d}/X.npy", "--beta", "0.1"],
            "--beta does not apply to --method facility_location (the default method; choose one "
            "with --method); it is an option of: elfs.",
        ),
        (["select", "{d}/table.csv", "--key", "f0"], "holds single values"),
        (["select", "{d}/notes.txt"], "unknown file type '.txt'"),
        (["select", "{d}/broken.npy"], "cannot read"),
        (["select", "{d}/nan.csv"], "column 'b' has missing values (1, first: row 1)"),
        (["select", "{d}/ragged.csv"], "every embedding must have the same length"),
        (["plot", "-o", "{d}/figs"], "either DATA"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, files, args, fragment):
    d = files["dir"]
    (d / "notes.txt").write_text("hello")
    (d / "broken.npy").write_bytes(b"not a numpy file")
    (d / "nan.csv").write_text("a,b\n1,2\n3,\n")
    (d / "ragged.csv").write_text('e\n"[1, 2]"\n"[1, 2, 3]"\n')
    if "-o" not in args:
        args = args + ["-o", "{d}/out.csv"]
    status, out, err = _run_main(capsys, *[a.format(d=d) for a in args])
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skelfs: error: ")
    assert fragment in lines[0]


def test_output_checked_before_fitting(capsys, files):
    d = files["dir"]
    status, _, err = _run_main(capsys, "select", d / "X.npy", "-o", d / "no" / "dir.csv")
    assert status == 2 and "does not exist" in err
    status, _, err = _run_main(capsys, "select", d / "X.npy", "-o", d / "X.npy")
    assert status == 2 and "is the input file" in err


def test_score_writes_every_row_and_every_difficulty(capsys, files, pool):
    d = files["dir"]
    status, out, err = _run_main(
        capsys,
        "score",
        d / "multi.npz",
        "--key",
        "emb",
        "--id-column",
        "ids",
        "--budget",
        "20",
        "--beta",
        "0.1",
        "--device",
        "cpu",
        "-o",
        d / "scores.csv",
        "--json",
    )
    assert status == 0, err
    frame = pd.read_csv(d / "scores.csv")
    sel = ELFSSelector(budget=20, beta=0.1, device="cpu", random_state=0).fit(pool)
    assert len(frame) == N
    assert frame["ids"].tolist() == files["ids"].tolist()
    assert frame["selected"].sum() == 20
    assert np.flatnonzero(frame["selected"]).tolist() == sel.sample_indices_.tolist()
    assert (frame["pseudo_label"] == sel.pseudo_labels_).all()
    for name, values in sel.scorer_.all_scores_.items():
        np.testing.assert_allclose(frame[name], values, rtol=1e-5, atol=1e-6)
    assert json.loads(out)["columns"][:3] == ["ids", "pseudo_label", "selected"]


def test_score_for_a_baseline_without_dynamics(capsys, files, pool):
    d = files["dir"]
    status, _, err = _run_main(
        capsys,
        "score",
        d / "X.npy",
        "--method",
        "prototypicality",
        "--budget",
        "10",
        "-o",
        d / "proto.csv",
    )
    assert status == 0, err
    frame = pd.read_csv(d / "proto.csv")
    assert list(frame.columns) == ["index", "pseudo_label", "selected", "score"]
    assert frame["selected"].sum() == 10


def test_read_pool_rules(files, tmp_path):
    d = files["dir"]
    # one numeric column besides the id: used; a single-array npz needs no --key
    X, ids, name = read_pool(d / "table.csv", id_column="id")
    assert X.shape == (N, D) and name == "id" and ids[0] == "row000"
    np.savez(tmp_path / "one.npz", anything=np.ones((3, 2)))
    assert read_pool(tmp_path / "one.npz")[0].shape == (3, 2)
    np.savez(tmp_path / "withX.npz", X=np.ones((3, 2)), y=np.arange(3))
    assert read_pool(tmp_path / "withX.npz")[0].shape == (3, 2)
    # NumPy's own repr of a row ("[0.1 0.2]") is read as well as JSON lists
    (tmp_path / "np.csv").write_text('e\n"[0.5 1.5]"\n"[2. 3.]"\n')
    np.testing.assert_array_equal(read_pool(tmp_path / "np.csv")[0], [[0.5, 1.5], [2, 3]])


@pytest.mark.parametrize("text, expected", [("100", 100), ("0.1", 0.1), ("1", 1), (" 0.25 ", 0.25)])
def test_parse_budget(text, expected):
    value = parse_budget(text)
    assert value == expected and type(value) is type(expected)


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("skelfs ")
    assert main(["select", "--help"]) == 0
    assert "--budget" in capsys.readouterr().out


def test_plot_without_matplotlib_says_how_to_install(capsys, files, monkeypatch):
    # None in sys.modules makes "import matplotlib" raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    status, _, err = _run_main(capsys, "plot", files["dir"] / "X.npy", "-o", files["dir"] / "f")
    assert status == 2 and "pip install skelfs[plot]" in err
    from skelfs import plotting

    X = np.random.RandomState(0).rand(10, 3)
    fitted = RandomSelector(budget=2).fit(X)
    for plot, args in [
        (plotting.plot_selection, (X, fitted)),
        (plotting.plot_budget_curve, (pd.DataFrame(),)),
    ]:
        with pytest.raises(ImportError, match=r"pip install skelfs\[plot\]"):
            plot(*args)


def test_clusterer_option_reaches_elfs():
    from skelfs.cli import build_parser, build_selector

    args = build_parser().parse_args(
        ["select", "X.npy", "--method", "elfs", "--clusterer", "temi", "-o", "o.csv"]
    )
    assert build_selector(args).clusterer == "temi"
    args = build_parser().parse_args(["select", "X.npy", "--method", "elfs", "-o", "o.csv"])
    assert build_selector(args).clusterer == "kmeans"  # unset keeps the default


def test_select_without_method_runs_the_registry_default_and_says_so(capsys, files, pool):
    from skelfs.registry import DEFAULT_METHOD, make_selector

    d = files["dir"]
    status, out, err = _run_main(
        capsys, "select", d / "X.npy", "--budget", "20", "-o", d / "default.csv"
    )
    assert status == 0, err
    assert f"({DEFAULT_METHOD}, the default: the best measured overall in docs/quality.md" in out
    expected = make_selector(DEFAULT_METHOD, budget=20, random_state=0).fit(pool)
    rows = pd.read_csv(d / "default.csv")["index"].tolist()
    assert sorted(rows) == expected.get_support(indices=True).tolist()
    # score keeps ELFS: per-row difficulty is what it writes
    from skelfs.cli import build_parser

    args = build_parser().parse_args(["score", "X.npy", "-o", "s.csv"])
    assert args.method == "elfs" and args.method_is_default
