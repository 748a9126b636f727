"""docs/input.md's table "What each input problem gets", run row by row (issue 14, item 10).

Every row of the table names a case; each case here builds that input, runs the command
in-process and checks the exit status and the quoted text. A case in the table without a
builder here, or the other way round, fails: the table cannot drift from the behaviour.
"""

import gzip
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skelfs.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "input.md"
ROW = re.compile(r"^\| `([a-z0-9-]+)` \| .*? \| (\d) \| (?:`(.*)`)? ?\|$")


def _doc_cases():
    cases = {}
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            cases[m.group(1)] = (int(m.group(2)), m.group(3) or "")
    return cases


CASES = _doc_cases()
RNG = np.random.RandomState(0)
POOL = RNG.rand(12, 3).astype(np.float32)


def _npy(d, name, array, **kw):
    np.save(d / name, array, **kw)
    return d / name


def _csv(d, name, text, encoding="utf-8"):
    (d / name).write_bytes(text.encode(encoding))
    return d / name


def _table_text(extra=""):
    rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in POOL[:, :2])
    return f"a,b{extra}\n" + rows + "\n"


def _build(case, d):
    """argv (without the common options) for ``case``; files go in ``d``."""
    out = ["-o", str(d / "out.csv")]
    if case == "missing-file":
        return [d / "nope.npy"], out
    if case == "directory":
        return [d], out
    if case == "unknown-suffix":
        return [_csv(d, "notes.txt", _table_text())], out
    if case == "csv-named-npy":
        return [_csv(d, "X.npy", _table_text())], out
    if case == "pickle-npy":
        (d / "X.npy").write_bytes(pickle.dumps(POOL.tolist()))
        return [d / "X.npy"], out
    if case == "object-npy":
        return [
            _npy(d, "X.npy", np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
        ], out
    if case == "truncated-npy":
        path = _npy(d, "X.npy", POOL)
        path.write_bytes(path.read_bytes()[:-10])
        return [path], out
    if case == "complex-npy":
        return [_npy(d, "X.npy", POOL + 1j)], out
    if case == "one-d-npy":
        return [_npy(d, "X.npy", POOL[:, 0])], out
    if case == "nan-npy":
        X = POOL.copy()
        X[1, 1] = np.nan
        return [_npy(d, "X.npy", X)], out
    if case == "huge-values":
        return [_npy(d, "X.npy", POOL * np.float32(1e30))], out
    if case == "tiny-values":
        return [_npy(d, "X.npy", POOL * np.float32(1e-30))], out
    if case == "empty-npz":
        np.savez(d / "X.npz")
        return [d / "X.npz"], out
    if case == "npz-several-arrays":
        np.savez(d / "X.npz", a=POOL, b=POOL)
        return [d / "X.npz"], out
    if case == "npy-named-csv":
        path = _npy(d, "X.npy", POOL)
        os.rename(path, d / "X.csv")
        return [d / "X.csv"], out
    if case == "gzip-named-csv":
        (d / "X.csv").write_bytes(gzip.compress(_table_text().encode()))
        return [d / "X.csv"], out
    if case == "empty-csv":
        return [_csv(d, "X.csv", "")], out
    if case == "header-only-csv":
        return [_csv(d, "X.csv", "a,b\n")], out
    if case == "mixed-column":
        return [_csv(d, "X.csv", "a,b\n1,2\n3,x\n5,6\n")], out
    if case == "semicolon-csv":
        return [_csv(d, "X.csv", "a;b\n1,5;2\n3,5;4\n5;6\n")], out
    if case == "decimal-comma":
        return [_csv(d, "X.csv", "a;b\n1,5;2\n3,5;4\n5;6\n"), "--sep", ";"], out
    if case == "semicolon-decimal-comma":
        return [_csv(d, "X.csv", "a;b\n1,5;2\n3,5;4\n5;6\n"), "--sep", ";", "--decimal", ","], out
    if case == "ragged-rows":
        return [_csv(d, "X.csv", "a,b\n1,2\n3,4,5\n")], out
    if case == "blank-cell":
        return [_csv(d, "X.csv", "a,b\n1,2\n3,\n5,6\n")], out
    if case == "text-column":
        return [_csv(d, "X.csv", "a,b,note\n1,2,x\n3,4,y\n5,7,z\n")], out
    if case == "id-like-column":
        text = "id,a,b\n" + "".join(f"{i},{a:.3f},{b:.3f}\n" for i, (a, b, _) in enumerate(POOL))
        return [_csv(d, "X.csv", text)], out
    if case == "bool-column":
        return [_csv(d, "X.csv", "a,flag\n1.5,True\n2.5,False\n0.5,True\n")], out
    if case == "blank-id":
        return [_csv(d, "X.csv", "id,a,b\nr1,1,2\n,3,4\nr3,5,6\n"), "--id-column", "id"], out
    if case == "list-id-column":
        pd.DataFrame({"e": list(POOL[:4]), "f": [1.0, 2, 3, 4]}).to_parquet(d / "X.parquet")
        return [d / "X.parquet", "--id-column", "e"], out
    if case == "ragged-lists":
        return [_csv(d, "X.csv", 'e\n"[1, 2]"\n"[1, 2, 3]"\n')], out
    if case == "not-utf8":
        return [_csv(d, "X.csv", "café,b\n1,2\n3,4\n", encoding="latin-1")], out
    if case == "nullable-parquet":
        pd.DataFrame(
            {
                "a": pd.array([1, 2, 3], dtype="Int64"),
                "b": pd.array([0.5, 1.5, 2.5], dtype="Float64"),
                "c": pd.array([True, False, True], dtype="boolean"),
            }
        ).to_parquet(d / "X.parquet")
        return [d / "X.parquet"], out
    if case == "nullable-missing":
        pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [0.5, 1.5, 2.5]}).to_parquet(
            d / "X.parquet"
        )
        return [d / "X.parquet"], out
    if case == "sep-for-npy":
        return [_npy(d, "X.npy", POOL), "--sep", ";"], out
    if case == "read-only-output":
        (d / "old.csv").write_text("index\n0\n")
        os.chmod(d / "old.csv", 0o444)
        return [_npy(d, "X.npy", POOL)], ["-o", str(d / "old.csv")]
    if case == "missing-output-dir":
        return [_npy(d, "X.npy", POOL)], ["-o", str(d / "no" / "out.csv")]
    if case == "output-is-directory":
        (d / "sub").mkdir()
        return [_npy(d, "X.npy", POOL)], ["-o", str(d / "sub")]
    if case == "format-contradicts-name":
        return [_npy(d, "X.npy", POOL)], ["--format", "jsonl", "-o", str(d / "out.csv")]
    raise KeyError(case)


def test_the_table_is_read():
    # a table the parser no longer matches would silently test nothing
    assert len(CASES) >= 30 and CASES["missing-file"] == (2, "no such file")


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_input_problem_gets_what_the_docs_say(case, tmp_path, capsys):
    status, fragment = CASES[case]
    data, out = _build(case, tmp_path)
    argv = ["select", *map(str, data), "--method", "random", "--budget", "1", *out]
    got = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert got == status, captured.err
    if status == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("skelfs: error: "), captured.err
        assert fragment in lines[0]
        assert len(lines[0]) < 400
        assert "allow_pickle" not in lines[0] and "unpickl" not in lines[0]
    else:
        assert fragment in captured.err
        assert len(pd.read_csv(tmp_path / "out.csv")) == 1
