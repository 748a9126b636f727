"""SelectorQueryStrategy: skelfs selectors as scikit-activeml query strategies."""

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from skelfs import (  # noqa: E402
    DynamicsScorer,
    ELFSSelector,
    KCenterGreedySelector,
    RandomSelector,
    TypiClustSelector,
)
from skelfs.integrations.skactiveml import SelectorQueryStrategy  # noqa: E402


@pytest.fixture
def pool():
    X, labels = make_blobs(150, n_features=4, centers=5, random_state=0)
    return X, labels


def missing(n):
    return np.full(n, np.nan)


SELECTORS = [
    TypiClustSelector(n_neighbors=5),
    KCenterGreedySelector(),
    RandomSelector(),
    ELFSSelector(beta=0.1, n_clusters=3, scorer=DynamicsScorer(epochs=2)),
]


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: type(s).__name__)
def test_cold_start_equals_the_selectors_own_selection(pool, selector):
    X, _ = pool
    picked = SelectorQueryStrategy(selector).query(X, missing(150), batch_size=12)
    own = selector.set_params(budget=12).fit(X).get_support(indices=True)
    assert picked.shape == (12,) and picked.dtype.kind == "i"
    np.testing.assert_array_equal(np.sort(picked), own)


def test_cold_start_keeps_the_order_of_choice(pool):
    X, _ = pool
    picked = SelectorQueryStrategy(KCenterGreedySelector()).query(X, missing(150), batch_size=6)
    np.testing.assert_array_equal(picked, KCenterGreedySelector(budget=6).fit(X).ranking_)


@pytest.mark.parametrize("selector", SELECTORS[:3], ids=lambda s: type(s).__name__)
def test_labelled_rows_are_never_chosen_again(pool, selector):
    X, labels = pool
    y = missing(150)
    qs = SelectorQueryStrategy(selector)
    chosen = []
    for _ in range(4):
        picked = qs.query(X, y, batch_size=10)
        assert picked.size == 10 and np.unique(picked).size == 10
        assert np.isnan(y[picked]).all()  # only unlabelled rows
        y[picked] = labels[picked]
        chosen.extend(picked)
    assert len(set(chosen)) == 40


def test_later_rounds_select_among_the_unlabelled_rows_only(pool):
    X, labels = pool
    y = missing(150)
    y[:100] = labels[:100]
    picked = SelectorQueryStrategy(KCenterGreedySelector()).query(X, y, batch_size=5)
    own = KCenterGreedySelector(budget=5).fit(X[100:]).get_support(indices=True)
    np.testing.assert_array_equal(np.sort(picked), 100 + own)


def test_candidates_are_respected_and_labelled_candidates_dropped(pool):
    X, labels = pool
    y = missing(150)
    y[:10] = labels[:10]
    candidates = np.r_[0:20, 140:150]  # rows 0-9 are labelled
    qs = SelectorQueryStrategy(TypiClustSelector(n_neighbors=5))
    picked = qs.query(X, y, candidates=candidates, batch_size=8)
    assert picked.size == 8 and set(picked) <= set(range(10, 20)) | set(range(140, 150))
    # the selector ran on exactly those 20 rows, in index order
    own = TypiClustSelector(n_neighbors=5, budget=8).fit(X[np.r_[10:20, 140:150]])
    np.testing.assert_array_equal(np.sort(picked), np.r_[10:20, 140:150][own.sample_indices_])


def test_candidate_samples_not_in_X_are_refused(pool):
    from skactiveml.exceptions import MappingError

    X, _ = pool
    with pytest.raises(MappingError, match="candidates as indices into X"):
        SelectorQueryStrategy(RandomSelector()).query(X, missing(150), candidates=X[:20])


def test_batch_larger_than_the_candidates(pool):
    X, labels = pool
    y = labels.astype(float)
    y[[3, 7, 9]] = np.nan
    with pytest.warns(UserWarning, match="larger than"):
        picked = SelectorQueryStrategy(RandomSelector()).query(X, y, batch_size=5)
    np.testing.assert_array_equal(np.sort(picked), [3, 7, 9])
    y[:] = labels
    with pytest.warns(UserWarning):
        picked = SelectorQueryStrategy(RandomSelector()).query(X, y, batch_size=2)
    assert picked.size == 0


def test_deterministic_with_random_state_and_seeded_from_it(pool):
    X, _ = pool
    y = missing(150)
    a = SelectorQueryStrategy(RandomSelector(), random_state=3).query(X, y, batch_size=10)
    b = SelectorQueryStrategy(RandomSelector(), random_state=3).query(X, y, batch_size=10)
    c = SelectorQueryStrategy(RandomSelector(), random_state=4).query(X, y, batch_size=10)
    np.testing.assert_array_equal(a, b)
    assert set(a) != set(c)
    rs = np.random.RandomState(5)
    d = SelectorQueryStrategy(RandomSelector(), random_state=rs).query(X, y, batch_size=10)
    e = SelectorQueryStrategy(RandomSelector(), random_state=np.random.RandomState(5)).query(
        X, y, batch_size=10
    )
    np.testing.assert_array_equal(d, e)


def test_utilities_follow_the_skactiveml_convention(pool):
    X, labels = pool
    y = missing(150)
    y[:5] = labels[:5]
    candidates = np.arange(60)
    picked, utilities = SelectorQueryStrategy(KCenterGreedySelector()).query(
        X, y, candidates=candidates, batch_size=4, return_utilities=True
    )
    assert utilities.shape == (4, 150)
    for b in range(4):
        assert np.nanargmax(utilities[b]) == picked[b]
        assert np.isnan(utilities[b, 60:]).all() and np.isnan(utilities[b, :5]).all()
        assert np.isnan(utilities[b, picked[:b]]).all()
        assert np.nansum(utilities[b]) == 1.0
        assert np.sum(~np.isnan(utilities[b])) == 55 - b


def test_string_missing_label():
    X, labels = make_blobs(60, centers=3, random_state=0)
    y = np.array(["none"] * 60, dtype="<U4")
    y[:20] = labels[:20].astype(str)
    qs = SelectorQueryStrategy(TypiClustSelector(n_neighbors=5), missing_label="none")
    picked = qs.query(X, y, batch_size=5)
    assert (picked >= 20).all()


def test_not_a_selector_is_refused(pool):
    X, _ = pool
    with pytest.raises(TypeError, match="selector must be a skelfs selector"):
        SelectorQueryStrategy(LogisticRegression()).query(X, missing(150))


def test_in_a_scikit_activeml_loop_then_uncertainty_sampling(pool):
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling

    X, labels = pool
    y = missing(150)
    cold = SelectorQueryStrategy(TypiClustSelector(n_neighbors=5)).query(X, y, batch_size=10)
    y[cold] = labels[cold]
    clf = SklearnClassifier(LogisticRegression(), classes=np.unique(labels), random_state=0)
    qs = UncertaintySampling(random_state=0)
    for _ in range(3):
        clf.fit(X, y)
        picked = qs.query(X, y, clf=clf, batch_size=5)
        assert np.isnan(y[picked]).all()
        y[picked] = labels[picked]
    assert np.sum(~np.isnan(y)) == 25


def test_a_selector_with_a_feature_extractor_takes_raw_rows():
    import torch

    from skelfs import TorchEncoder

    images = np.random.RandomState(0).rand(40, 2, 3, 3)  # raw "images"
    elfs = ELFSSelector(
        beta=0.1,
        n_clusters=3,
        scorer=DynamicsScorer(epochs=2),
        feature_extractor=TorchEncoder(torch.nn.Flatten(), device="cpu"),
    )
    picked = SelectorQueryStrategy(elfs).query(images, missing(40), batch_size=6)
    flat = images.reshape(40, -1)
    own = elfs.set_params(budget=6, feature_extractor=None).fit(flat).get_support(indices=True)
    np.testing.assert_array_equal(np.sort(picked), own)


def test_the_active_learning_example_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "active_learning.py"
    spec = importlib.util.spec_from_file_location("active_learning_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "curve.png"
    example.main(["--out", str(out), "--seeds", "0", "--rounds", "1", "--batch", "5"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and list(tmp_path.iterdir()) == [out]
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[0] == "20" and lines[3].split()[0] == "25"
