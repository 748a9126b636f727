"""Output is never lost, and is safe to open in a spreadsheet (issue 14, items 1 and 9)."""

import os
import signal

import numpy as np
import pandas as pd
import pytest

from skelfs import cli
from skelfs.cli import main

OLD = "index\n7\n8\n"


@pytest.fixture
def pool(tmp_path):
    np.save(tmp_path / "X.npy", np.random.RandomState(0).rand(40, 3).astype(np.float32))
    (tmp_path / "out.csv").write_text(OLD)
    return tmp_path


def _argv(d, *extra):
    return [
        "select",
        str(d / "X.npy"),
        "--method",
        "random",
        "--budget",
        "5",
        "-o",
        str(d / "out.csv"),
        *extra,
    ]


def _interrupt_mid_write(monkeypatch, raise_):
    """to_csv writes half its lines, then ``raise_()`` runs (an error or a signal)."""
    original = pd.DataFrame.to_csv

    def half_then_fail(self, path, *args, **kwargs):
        original(self.iloc[: len(self) // 2], path, *args, **kwargs)
        raise_()

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)


def _no_leftovers(d):
    return sorted(p.name for p in d.iterdir()) == ["X.npy", "out.csv"]


def _disk_full():
    raise OSError(28, "No space left on device")


def _ctrl_c():
    raise KeyboardInterrupt


def _sigterm():
    os.kill(os.getpid(), signal.SIGTERM)  # the handler main installs raises here


@pytest.mark.parametrize(
    "fail, status, said",
    [
        (_disk_full, 2, "No space left on device"),
        (_ctrl_c, 130, "interrupted"),
        (_sigterm, 143, "terminated"),
    ],
)
def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial_file(
    pool, monkeypatch, capsys, fail, status, said
):
    _interrupt_mid_write(monkeypatch, fail)
    assert main(_argv(pool)) == status
    assert said in capsys.readouterr().err
    assert (pool / "out.csv").read_text() == OLD
    assert _no_leftovers(pool)
    assert signal.getsignal(signal.SIGTERM) is not cli._terminate  # handler restored


def test_a_successful_write_replaces_the_file_with_usual_permissions(pool, capsys):
    os.chmod(pool / "out.csv", 0o640)
    assert main(_argv(pool)) == 0
    assert len(pd.read_csv(pool / "out.csv")) == 5
    assert os.stat(pool / "out.csv").st_mode & 0o777 == 0o640  # kept
    assert _no_leftovers(pool)


def test_output_problems_are_found_before_fitting(pool, monkeypatch, capsys):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking the output")

    monkeypatch.setattr(cli, "_fit", no_fit)
    os.chmod(pool / "out.csv", 0o444)
    assert main(_argv(pool)) == 2
    assert "read-only" in capsys.readouterr().err
    os.chmod(pool / "out.csv", 0o644)
    (pool / "dir.csv").mkdir()
    for target, said in [
        (pool / "dir.csv", "it is a directory"),
        (pool / "nope" / "o.csv", "does not exist"),
        (pool / "X.npy", "is the input file"),
    ]:
        argv = _argv(pool)[:-1] + [str(target)]
        assert main(argv) == 2
        assert said in capsys.readouterr().err


def test_an_unwritable_directory_is_found_before_fitting(pool, monkeypatch, capsys):
    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)  # also holds when run as root
    monkeypatch.setattr(cli, "_fit", lambda *a: pytest.fail("fitted"))
    assert main(_argv(pool)) == 2
    assert "cannot write in" in capsys.readouterr().err


def test_ids_cannot_run_as_spreadsheet_formulas(tmp_path, capsys):
    ids = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "-1.5", "plain", '=HYPERLINK("x")']
    frame = pd.DataFrame({"id": ids, "a": np.arange(8.0), "b": np.arange(8.0) ** 2})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert (
        main(
            [
                "select",
                str(tmp_path / "t.csv"),
                "--id-column",
                "id",
                "--method",
                "random",
                "--budget",
                "7",
                "-o",
                str(tmp_path / "o.csv"),
            ]
        )
        == 0
    )
    text = (tmp_path / "o.csv").read_text()
    written = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)["id"]
    for cell in written:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell == "-1.5"
        assert not (cell.startswith("-") and cell != "-1.5")
    assert "'=1+2" in text and "-1.5" in text and "'-2+3" in text
    # numeric ids stay numeric, negative ones included
    frame["id"] = np.arange(-4, 4)
    frame.to_csv(tmp_path / "n.csv", index=False)
    assert (
        main(
            [
                "select",
                str(tmp_path / "n.csv"),
                "--id-column",
                "id",
                "--method",
                "random",
                "--budget",
                "7",
                "-o",
                str(tmp_path / "o.csv"),
            ]
        )
        == 0
    )
    assert pd.read_csv(tmp_path / "o.csv")["id"].dtype == np.int64
