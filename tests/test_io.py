"""skelfs.io: the same table gives the same features to the command line and the API; the
same values give the same selection whatever the container or dtype; scale (issue 14)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skelfs import ELFSSelector, KCenterGreedySelector, RandomSelector
from skelfs.cli import main
from skelfs.io import IdColumnWarning, InputFileError, frame_to_matrix, read_pool


def _frame():
    rng = np.random.RandomState(0)
    return pd.DataFrame(
        {
            "a": rng.rand(40),
            "b": rng.randint(0, 5, 40),
            "flag": rng.rand(40) > 0.5,
            "n": pd.array(rng.randint(0, 9, 40), dtype="Int64"),
            "f": pd.array(rng.rand(40), dtype="Float32"),
            "g": pd.array(rng.rand(40) > 0.3, dtype="boolean"),
        }
    )


def test_cli_and_api_read_a_table_into_the_same_features(tmp_path):
    frame = _frame()
    frame.to_parquet(tmp_path / "t.parquet")
    frame.astype({"n": "int64", "f": "float32", "g": bool}).to_csv(tmp_path / "t.csv", index=False)
    X_api = frame_to_matrix(frame)
    for name in ("t.parquet", "t.csv"):
        X_file = read_pool(tmp_path / name)[0]
        np.testing.assert_array_equal(X_file.astype(np.float32), X_api.astype(np.float32))
    # bool and nullable columns are features in fit as well, in column order
    sel = KCenterGreedySelector(budget=5).fit(frame)
    assert sel.n_features_in_ == 6 and list(sel.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(
        sel.sample_indices_, KCenterGreedySelector(budget=5).fit(X_api).sample_indices_
    )
    assert sel.transform(frame).shape == (5, 6)


def test_nullable_columns_with_missing_values_say_where():
    frame = _frame()
    frame.loc[7, "f"] = pd.NA
    with pytest.raises(ValueError, match=r"column 'f' has missing values \(1, first: row 7\)"):
        RandomSelector(budget=2).fit(frame)
    sel = RandomSelector(budget=2)
    with pytest.raises(ValueError):
        sel.fit(frame)
    assert not hasattr(sel, "n_features_in_")  # fit changed nothing


@pytest.mark.parametrize(
    "values, fragment",
    [
        (["1.5", "2", "abc", "4"], "column 'c' mixes numbers and text: row 2 holds 'abc'"),
        (["1,5", "2,5", "3,0", "4,1"], "decimal comma (row 0: '1,5')"),
        (["x", "y", "z", "w"], "column(s) of text"),
    ],
)
def test_text_in_a_frame_is_an_error_naming_column_row_and_value(values, fragment):
    frame = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4], "c": values})
    with pytest.raises(InputFileError) as info:
        RandomSelector(budget=2).fit(frame)
    assert fragment in str(info.value)


def test_id_like_columns_warn_with_how_to_exclude(tmp_path):
    frame = pd.DataFrame({"a": np.random.RandomState(0).rand(30), "rank": np.arange(5, 35)})
    with pytest.warns(IdColumnWarning, match=r"unique increasing integers.*--id-column rank"):
        frame_to_matrix(frame)
    frame.to_csv(tmp_path / "t.csv")  # pandas index written as "Unnamed: 0"
    with pytest.warns(IdColumnWarning, match="'Unnamed: 0' looks like a row id"):
        read_pool(tmp_path / "t.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame_to_matrix(frame[["a"]])  # no id-like column: no warning


def test_sep_and_decimal(tmp_path):
    (tmp_path / "eu.csv").write_text("a;b\n1,5;2\n-3,25;4\n")
    X = read_pool(tmp_path / "eu.csv", sep=";", decimal=",")[0]
    np.testing.assert_array_equal(X, [[1.5, 2], [-3.25, 4]])
    with pytest.raises(InputFileError, match="--sep"):
        read_pool(tmp_path / "eu.csv")


# -- item 7: the container does not change the answer ------------------------------------------
@pytest.fixture(scope="module")
def pool32():
    rng = np.random.RandomState(1)
    centres = rng.normal(scale=3.0, size=(5, 12))
    return (centres[rng.randint(5, size=300)] + rng.normal(size=(300, 12))).astype(np.float32)


def test_same_values_same_selection_whatever_container_or_dtype(pool32, tmp_path):
    reference = ELFSSelector(budget=30, beta=0.1, device="cpu", n_jobs=1).fit(pool32)
    np.save(tmp_path / "X64.npy", pool32.astype(np.float64))
    containers = {
        "float64": pool32.astype(np.float64),
        "Fortran float64": np.asfortranarray(pool32.astype(np.float64)),
        "DataFrame float64": pd.DataFrame(pool32.astype(np.float64)),
        "DataFrame Float64": pd.DataFrame(pool32.astype(np.float64)).astype("Float64"),
        "memmap float64": np.load(tmp_path / "X64.npy", mmap_mode="r"),
        "list of lists": pool32.tolist(),
    }
    for name, X in containers.items():
        sel = ELFSSelector(budget=30, beta=0.1, device="cpu", n_jobs=1).fit(X)
        np.testing.assert_array_equal(sel.sample_indices_, reference.sample_indices_, err_msg=name)


def test_same_values_same_rows_from_every_file_format(pool32, tmp_path, capsys):
    np.save(tmp_path / "X.npy", pool32)
    np.savez(tmp_path / "X.npz", X=pool32.astype(np.float64))
    pd.DataFrame({"e": list(pool32.astype(np.float64))}).to_parquet(tmp_path / "X.parquet")
    pd.DataFrame({"e": [str(r.tolist()) for r in pool32]}).to_csv(tmp_path / "l.csv", index=False)
    pd.DataFrame(pool32.astype(np.float64)).to_csv(tmp_path / "c.csv", index=False)
    rows = {}
    for name in ("X.npy", "X.npz", "X.parquet", "l.csv", "c.csv"):
        assert (
            main(
                [
                    "select",
                    str(tmp_path / name),
                    "--budget",
                    "20",
                    "--method",
                    "elfs",
                    "--beta",
                    "0.1",
                    "--device",
                    "cpu",
                    "--n-jobs",
                    "1",
                    "-o",
                    str(tmp_path / f"{name}.out.csv"),
                ]
            )
            == 0
        ), capsys.readouterr().err
        rows[name] = pd.read_csv(tmp_path / f"{name}.out.csv")["index"].tolist()
    assert all(r == rows["X.npy"] for r in rows.values()), rows


# -- item 8: scale -----------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e30, 1e-30, 1e20, 1e-20])
def test_a_scale_float32_cannot_hold_is_a_clear_error(pool32, scale):
    X = (pool32.astype(np.float64) * scale).astype(np.float32)
    for cls in (ELFSSelector, KCenterGreedySelector):
        sel = cls(budget=10)
        with pytest.raises(ValueError, match=r"X is too (large|small) to select from.*Rescale X"):
            sel.fit(X)
        assert not hasattr(sel, "sample_indices_")


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_in_range_scales_select_without_false_identical_rows_warning(pool32, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "are the rows identical?" warning
        scaled = KCenterGreedySelector(budget=20).fit(pool32 * np.float32(scale))
        ELFSSelector(budget=20, beta=0.1, device="cpu", n_jobs=1).fit(pool32 * np.float32(scale))
    reference = KCenterGreedySelector(budget=20).fit(pool32)
    overlap = np.intersect1d(scaled.sample_indices_, reference.sample_indices_).size
    assert overlap >= 18


def test_return_columns_gives_the_other_columns_of_a_table(tmp_path):
    rng = np.random.RandomState(0)
    numeric = pd.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(6)],
            "text": [f"text {i}" for i in range(6)],
            "x": rng.rand(6),
            "note": ["", "see row 2", "", "", "", ""],  # text with blanks
            "y": rng.rand(6),
            "url": [f"https://example.org/{i}.jpg" for i in range(6)],
        }
    )
    numeric.to_csv(tmp_path / "numeric.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # text columns left out of the features
        X, ids, name, columns = read_pool(
            tmp_path / "numeric.csv", id_column="doc_id", return_columns=True
        )
    assert X.shape == (6, 2) and name == "doc_id"
    assert list(columns.columns) == ["text", "note", "url"]
    assert columns["url"].tolist() == numeric["url"].tolist()
    # with a list column as the embeddings, every other column is carried, numbers included
    lists = pd.DataFrame(
        {
            "label": [0, 1, 0],
            "emb": ["[1, 2]", "[3, 4]", "[5, 6]"],
            "caption": ["a", "b", "c"],
        }
    )
    lists.to_csv(tmp_path / "lists.csv", index=False)
    for key in (None, "emb"):
        X, ids, name, columns = read_pool(tmp_path / "lists.csv", key=key, return_columns=True)
        assert X.shape == (3, 2) and name == "index"
        assert list(columns.columns) == ["label", "caption"]
        assert columns["label"].tolist() == [0, 1, 0]
    # arrays have no other columns; the three-value form is unchanged
    np.save(tmp_path / "X.npy", rng.rand(4, 3))
    assert read_pool(tmp_path / "X.npy", return_columns=True)[3] is None
    assert len(read_pool(tmp_path / "X.npy")) == 3
