"""Output for annotators (issue 18, items 3 and 4): ``--format csv|jsonl|label-studio``
carrying the input's other columns, and a summary and progress people can read."""

import json

import numpy as np
import pandas as pd
import pytest

from skelfs import PrototypicalitySelector, RandomSelector, cli
from skelfs.cli import main

N = 60


@pytest.fixture
def table(tmp_path):
    """A pool with an id, a text, an image URL and a label column next to its embeddings."""
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(N, 5)) + np.repeat(rng.normal(scale=4, size=(3, 5)), N // 3, 0)).round(4)
    frame = pd.DataFrame(
        {
            "doc_id": [f"doc-{i:02d}" for i in range(N)],
            "text": [f'line {i}, with "quotes"\nand a newline' for i in range(N)],
            "image": [f"https://example.org/img/{i}.jpg" for i in range(N)],
            "label": rng.randint(0, 3, N),
            "weight": np.where(np.arange(N) % 7 == 0, np.nan, 0.5),  # NaN -> null
            "embedding": [str(r.tolist()) for r in X],
        }
    )
    frame.loc[3, "text"] = "=HYPERLINK(evil)"
    frame.to_csv(tmp_path / "pool.csv", index=False)
    return tmp_path, frame, X


def _select(d, *extra, method="random", budget="8"):
    return [
        "select",
        str(d / "pool.csv"),
        "--id-column",
        "doc_id",
        "--method",
        method,
        "--budget",
        budget,
        *extra,
    ]


def _run(capsys, argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


OTHER = ["text", "image", "label", "weight"]


def test_label_studio_tasks_carry_the_id_and_every_other_column(table, capsys):
    d, frame, X = table
    status, out, err = _run(
        capsys,
        _select(d, "--format", "label-studio", "-o", d / "tasks.json", method="prototypicality"),
    )
    assert status == 0, err
    tasks = json.loads((d / "tasks.json").read_text(encoding="utf-8"))  # strict JSON
    sel = PrototypicalitySelector(budget=8, end="easy", random_state=0).fit(X)
    rows = sel.sample_indices_
    assert isinstance(tasks, list) and len(tasks) == 8
    assert [t["data"]["doc_id"] for t in tasks] == frame["doc_id"][rows].tolist()
    for task, row in zip(tasks, rows):
        assert set(task) == {"data", "meta"}  # no top-level "id": Label Studio's own
        assert list(task["data"]) == ["doc_id", *OTHER]
        assert task["data"]["text"] == frame["text"][row]  # as it is: no CSV quoting
        assert task["data"]["image"] == frame["image"][row]
        assert task["data"]["label"] == int(frame["label"][row])
        expected_weight = None if row % 7 == 0 else 0.5
        assert task["data"]["weight"] == expected_weight
        assert task["meta"]["pseudo_label"] == int(sel.labels_[row])
        assert task["meta"]["score"] == pytest.approx(sel.scores_[row], rel=1e-6)
    assert "-> " in out and "(Label Studio tasks)" in out
    assert "NaN" not in (d / "tasks.json").read_text()


def test_jsonl_has_one_object_per_selected_row(table, capsys):
    d, frame, X = table
    # the format follows the -o name when --format is not given
    status, out, err = _run(capsys, _select(d, "-o", d / "rows.jsonl", method="kcenter"))
    assert status == 0, err
    lines = (d / "rows.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 8
    from skelfs import KCenterGreedySelector

    sel = KCenterGreedySelector(budget=8, random_state=0).fit(X)
    assert [r["doc_id"] for r in records] == frame["doc_id"][sel.sample_indices_].tolist()
    assert list(records[0]) == ["doc_id", *OTHER, "rank"]
    assert sorted(r["rank"] for r in records) == list(range(8))
    assert records[0]["text"] == frame["text"][sel.sample_indices_[0]]
    assert all(r["weight"] in (None, 0.5) for r in records)
    assert "(JSON lines)" in out


def test_csv_carries_the_other_columns_and_stays_spreadsheet_safe(table, capsys):
    d, frame, X = table
    rows = RandomSelector(budget=20, random_state=0).fit(X).sample_indices_
    status, _, err = _run(capsys, _select(d, "-o", d / "rows.csv", budget="20"))
    assert status == 0, err
    out = pd.read_csv(d / "rows.csv")
    assert list(out.columns) == ["doc_id", *OTHER]
    assert out["doc_id"].tolist() == frame["doc_id"][rows].tolist()
    assert out["image"].tolist() == frame["image"][rows].tolist()
    if 3 in rows:  # a formula in a text column is quoted in the CSV only
        assert "'=HYPERLINK(evil)" in out["text"].tolist()
    status, _, err = _run(capsys, _select(d, "-o", d / "rows.jsonl", budget="20"))
    texts = [json.loads(line)["text"] for line in (d / "rows.jsonl").read_text().splitlines()]
    if 3 in rows:
        assert "=HYPERLINK(evil)" in texts


def test_a_column_named_like_an_output_column_keeps_its_name(table, capsys):
    d, frame, _ = table
    frame.rename(columns={"label": "score"}).to_csv(d / "pool.csv", index=False)
    status, _, err = _run(
        capsys, _select(d, "--format", "csv", "-o", d / "rows.csv", method="prototypicality")
    )
    assert status == 0, err
    out = pd.read_csv(d / "rows.csv")
    assert {"score", "skelfs_score", "pseudo_label"} <= set(out.columns)
    assert set(out["score"]) <= {0, 1, 2}  # the input's column, unchanged
    status, _, err = _run(capsys, _select(d, "-o", d / "tasks.json", method="prototypicality"))
    task = json.loads((d / "tasks.json").read_text())[0]
    assert task["data"]["score"] in (0, 1, 2) and isinstance(task["meta"]["score"], float)


def test_npy_tasks_hold_the_row_number(tmp_path, capsys):
    X = np.random.RandomState(0).rand(30, 4).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    argv = ["select", tmp_path / "X.npy", "--method", "random", "--budget", "5"]
    status, _, err = _run(capsys, [*argv, "-o", tmp_path / "t.json"])
    assert status == 0, err
    tasks = json.loads((tmp_path / "t.json").read_text())
    rows = RandomSelector(budget=5, random_state=0).fit(X).sample_indices_
    assert tasks == [{"data": {"index": int(i)}} for i in rows]  # random has no meta


def test_score_writes_jsonl_for_every_row(table, capsys):
    d, frame, _ = table
    argv = ["score", d / "pool.csv", "--id-column", "doc_id", "--method", "prototypicality"]
    status, out, err = _run(capsys, [*argv, "--budget", "8", "--json", "-o", d / "s.jsonl"])
    assert status == 0, err
    records = [json.loads(line) for line in (d / "s.jsonl").read_text().splitlines()]
    assert [r["doc_id"] for r in records] == frame["doc_id"].tolist()
    assert sum(r["selected"] for r in records) == 8
    summary = json.loads(out)
    assert summary["format"] == "jsonl"
    assert summary["columns"] == ["doc_id", *OTHER, "pseudo_label", "selected", "score"]


@pytest.mark.parametrize(
    "command, name, fmt, said",
    [
        (
            "select",
            "rows.csv",
            "jsonl",
            "-o {d}/rows.csv: a .csv name, but --format jsonl "
            "writes JSON lines (one object per row); name it rows.jsonl, or drop --format to "
            "write a CSV table.",
        ),
        (
            "select",
            "tasks.json",
            "csv",
            "name it tasks.csv, or drop --format to write a JSON list of Label Studio tasks",
        ),
        ("select", "rows.jsonl", "label-studio", "name it rows.json, or drop --format"),
        (
            "score",
            "s.json",
            None,
            "a .json name means a JSON list of Label Studio tasks, which "
            "score does not write; name it s.csv or s.jsonl (JSON lines).",
        ),
        (
            "score",
            "s.json",
            "jsonl",
            "--format jsonl writes JSON lines (one object per row); name it s.jsonl.",
        ),
        ("score", "s.csv", "label-studio", "invalid choice: 'label-studio'"),
    ],
)
def test_a_name_that_contradicts_the_format_is_refused_before_fitting(
    table, capsys, monkeypatch, command, name, fmt, said
):
    d, _, _ = table
    monkeypatch.setattr(cli, "_fit", lambda *a: pytest.fail("fitted"))
    argv = [command, d / "pool.csv", "--id-column", "doc_id", "-o", d / name]
    status, out, err = _run(capsys, argv + (["--format", fmt] if fmt else []))
    assert status == 2 and out == ""
    assert said.format(d=d) in err
    assert len(err.strip().splitlines()) == 1


def test_a_name_of_no_known_format_takes_the_format_or_csv(table, capsys):
    d, _, _ = table
    assert main(_select(d, "-o", str(d / "rows.txt"), "--format", "jsonl")) == 0
    json.loads((d / "rows.txt").read_text().splitlines()[0])
    assert main(_select(d, "-o", str(d / "rows.out"))) == 0
    assert (d / "rows.out").read_text().startswith("doc_id,text,image,label,weight\n")
    capsys.readouterr()


def _fail_after(monkeypatch, n, error):
    real, calls = cli._dumps, []

    def dumps(obj):
        calls.append(1)
        if len(calls) > n:
            raise error
        return real(obj)

    monkeypatch.setattr(cli, "_dumps", dumps)


@pytest.mark.parametrize("name", ["tasks.json", "rows.jsonl"])
@pytest.mark.parametrize(
    "error, status", [(OSError(28, "No space left on device"), 2), (KeyboardInterrupt(), 130)]
)
def test_a_json_write_that_fails_half_way_leaves_the_old_file(
    table, capsys, monkeypatch, name, error, status
):
    d, _, _ = table
    (d / name).write_text("old\n")
    before = sorted(p.name for p in d.iterdir())
    _fail_after(monkeypatch, 3, error)
    assert main(_select(d, "-o", str(d / name))) == status
    assert (d / name).read_text() == "old\n"
    assert sorted(p.name for p in d.iterdir()) == before  # no partial file left
    err = capsys.readouterr().err
    assert ("No space left on device" in err) if status == 2 else ("interrupted" in err)


# -- the summary and the progress of ELFS -----------------------------------------------------
def test_elfs_summary_says_what_k_and_beta_mean_and_v_names_the_stages(table, capsys):
    d, _, X = table
    argv = _select(d, "-o", d / "elfs.csv", "--device", "cpu", method="elfs", budget="12")
    status, out, err = _run(capsys, [*argv, "-v"])
    assert status == 0, err
    first, second = out.strip().splitlines()  # stdout: the summary only
    assert first.startswith("selected 12 of 60 rows (elfs, ")
    assert second.startswith("pseudo-labels: K=6 k-means clusters; ")
    assert "(beta=" in second and "chosen by the label-free search" in second
    assert second.endswith("then sampled the rest evenly across difficulty in each cluster.")
    assert "as likely pseudo-label noise" in second or "dropped no rows" in second
    for stage in [
        "ELFS [1/4] pseudo-labels: k-means, K=6 clusters of 60 rows",
        "ELFS [2/4] proxy training dynamics:",
        "ELFS [3/4] choosing beta:",
        "ELFS [4/4] pruning and sampling:",
        "k-means K=6, restarts on 60 rows: 3/3",
        "proxy dynamics: 20/20 (100%)",
        "choosing beta: ",
    ]:
        assert stage in err, stage
    assert "\r" not in err  # stderr is captured, not a terminal: plain lines

    # without -v: nothing on stderr; a fixed beta is said to be the user's
    status, out, err = _run(capsys, [*argv, "--beta", "0.2"])
    assert status == 0 and err == ""
    assert (
        "dropped the hardest 20% of each cluster (beta=0.2, as set with --beta) as likely "
        "pseudo-label noise" in out
    )
    status, out, err = _run(capsys, [*argv, "--beta", "0"])
    assert "dropped no rows as pseudo-label noise (beta=0, as set with --beta)" in out


def test_other_methods_keep_a_one_line_summary(table, capsys):
    d, _, _ = table
    status, out, err = _run(capsys, _select(d, "-o", d / "r.csv", method="typiclust"))
    assert status == 0 and err == ""
    assert len(out.strip().splitlines()) == 1 and "K=" not in out
