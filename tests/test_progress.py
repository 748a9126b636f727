"""Progress people can read (issue 18, item 4): named stages, a bar in a terminal, a few
plain lines in a log, nothing at all without ``verbose``."""

import io
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skelfs import DynamicsScorer, ELFSSelector, KMeansClusterer, _utils
from skelfs._utils import Stages, _PlainProgress, progress


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def blobs():
    X, _ = make_blobs(300, centers=4, n_features=5, random_state=0)
    return X


def test_plain_lines_are_rate_limited(capsys):
    clock = _Clock()
    bar = _PlainProgress(100, "work", clock=clock)
    for _ in range(100):  # 100 quick steps in 0.5 s: only the last one is written
        clock.now += 0.005
        bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["work: 100/100 (100%), 0.5 s"]

    clock = _Clock()
    bar = _PlainProgress(100, "slow", clock=clock)
    for _ in range(100):  # 100 steps of 0.5 s: a line per 10% (every 5 s), not per second
        clock.now += 0.5
        bar.update()
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10  # 10%, 20%, ..., 100%; close adds nothing
    assert lines[0] == "slow: 10/100 (10%), 5.0 s, about 45 s left"
    assert lines[-1].startswith("slow: 100/100 (100%)")

    clock = _Clock()
    bar = _PlainProgress(1000, "crawl", clock=clock)
    for _ in range(30):  # under 10% in 60 s: a line every 10 s all the same
        clock.now += 2.0
        bar.update()
    assert len(capsys.readouterr().err.splitlines()) == 6


def test_plain_lines_with_an_unknown_total_and_a_postfix(capsys):
    clock = _Clock()
    bar = _PlainProgress(None, "passes", clock=clock)
    for change in (-0.03, -0.002, -0.0009):
        clock.now += 3.0
        bar.set_postfix(change=change)
        bar.update()
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "passes: 1 in 3.0 s [change=-0.03]",
        "passes: 2 in 6.0 s [change=-0.002]",
        "passes: 3 in 9.0 s [change=-0.0009]",
    ]
    clock = _Clock()
    bar = _PlainProgress(None, "fast", clock=clock)
    bar.update()
    bar.update()
    bar.close()  # the count not yet written is written at the end
    assert capsys.readouterr().err.splitlines() == ["fast: 2 in 0.0 s"]


def _five_steps_on(stream, monkeypatch):
    """The reporter ``progress`` gives with ``stream`` as stderr, after five steps."""
    monkeypatch.setattr(sys, "stderr", stream)
    bar = progress(5, "epochs", verbose=1)
    for _ in range(5):
        bar.update()
    bar.close()
    return bar


def test_a_terminal_gets_a_tqdm_bar_and_a_log_plain_lines(monkeypatch):
    from tqdm import tqdm

    terminal = _Terminal()
    assert isinstance(_five_steps_on(terminal, monkeypatch), tqdm)
    assert "epochs" in terminal.getvalue() and "\r" in terminal.getvalue()

    log = io.StringIO()  # isatty() is False: a file, a pipe, a CI log
    assert isinstance(_five_steps_on(log, monkeypatch), _PlainProgress)
    lines = log.getvalue().splitlines()  # whole lines (the rate limit: test above), no "\r"
    assert lines[-1].startswith("epochs: 5/5 (100%), ")
    assert all(line.startswith("epochs: ") for line in lines)
    assert "\r" not in log.getvalue()


def test_verbose_zero_writes_nothing_even_on_a_terminal(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = progress(3, "quiet", verbose=0)
    bar.update(3)
    bar.set_postfix(x=1)
    bar.close()
    Stages("ELFS", 2, 0).start("pseudo-labels", "k-means")
    assert terminal.getvalue() == ""


def test_stderr_without_isatty_counts_as_a_log(monkeypatch):
    class Bare:
        def write(self, text):
            pass

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Bare())
    assert not _utils.stderr_is_terminal()


def test_stages_name_each_stage_and_its_time(capsys):
    clock = _Clock()
    stages = Stages("ELFS", 2, 1, clock=clock)
    stages.start("pseudo-labels", "k-means, K=4 clusters")
    clock.now = 2.5
    stages.start("choosing beta")
    clock.now = 3.0
    stages.finish()
    stages.finish()  # a second finish says nothing
    assert capsys.readouterr().err.splitlines() == [
        "ELFS [1/2] pseudo-labels: k-means, K=4 clusters",
        "ELFS [1/2] pseudo-labels done in 2.5 s",
        "ELFS [2/2] choosing beta",
        "ELFS [2/2] choosing beta done in 0.5 s",
    ]


def test_elfs_verbose_names_its_stages_and_shows_progress_inside(blobs, capsys):
    ELFSSelector(
        budget=40, n_clusters=4, scorer=DynamicsScorer(epochs=3, verbose=1), verbose=1
    ).fit(blobs)
    err = capsys.readouterr().err
    for line in [
        "ELFS [1/4] pseudo-labels: k-means, K=4 clusters of 300 rows",
        "ELFS [2/4] proxy training dynamics: aum from a linear head trained 3 epochs",
        "ELFS [3/4] choosing beta: a label-free search over beta in 0.0, 0.05",
        "ELFS [4/4] pruning and sampling: beta=",
        "ELFS [4/4] pruning and sampling done in",
        "k-means K=4, restarts on 300 rows: 3/3 (100%)",  # inside k-means
        "proxy dynamics: 3/3 (100%)",  # inside the proxy training
        "choosing beta: 7/7 (100%)",  # inside the beta search
    ]:
        assert line in err, line


def test_elfs_with_a_fixed_beta_and_coverage_counts_its_stages(blobs, capsys):
    scorer = DynamicsScorer(epochs=2)
    ELFSSelector(budget=30, n_clusters=4, beta=0.1, scorer=scorer, verbose=1).fit(blobs)
    err = capsys.readouterr().err
    assert "ELFS [3/3] pruning and sampling: beta=0.1, sampling=ccs, 30 rows" in err
    assert "choosing beta" not in err
    params = dict(budget=30, n_clusters=4, beta=0.1, sampling="coverage", scorer=scorer)
    ELFSSelector(**params, verbose=1).fit(blobs)
    err = capsys.readouterr().err
    assert "ELFS [3/4] kNN graph: 20 neighbours per row, for coverage sampling" in err
    assert "ELFS [4/4] pruning and sampling" in err


def test_elfs_says_when_the_memory_cache_answered(blobs, tmp_path, capsys):
    params = dict(budget=30, n_clusters=4, beta=0.1, scorer=DynamicsScorer(epochs=2))
    ELFSSelector(**params, memory=str(tmp_path), verbose=1).fit(blobs)
    assert "loaded from the memory cache" not in capsys.readouterr().err
    ELFSSelector(**params, memory=str(tmp_path), verbose=1).fit(blobs)
    assert "ELFS [2/3] proxy training dynamics: loaded from the memory cache" in (
        capsys.readouterr().err
    )


def test_without_verbose_elfs_and_kmeans_are_silent(blobs, capfd):
    ELFSSelector(budget=40, n_clusters=4, scorer=DynamicsScorer(epochs=2)).fit(blobs)
    KMeansClusterer(4, algorithm="minibatch", batch_size=50, random_state=0).fit(blobs)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize(
    "algorithm, said",
    [
        ("lloyd", "k-means K=4, restarts: 3/3 (100%)"),
        ("minibatch", "k-means K=4, passes over 300 rows: "),
        ("torch", "k-means K=4, passes over 300 rows: "),
    ],
)
def test_kmeans_verbose_shows_progress_on_every_path(blobs, capsys, algorithm, said):
    KMeansClusterer(
        4, algorithm=algorithm, batch_size=50, device="cpu", random_state=0, verbose=1
    ).fit(blobs)
    captured = capsys.readouterr()
    assert said in captured.err
    assert captured.out == ""  # stdout carries results only (the CLI's summary)


def test_kmeans_restarts_one_at_a_time_give_sklearns_kmeans(blobs):
    from sklearn.cluster import KMeans

    from skelfs.clustering.kmeans import _lloyd_restarts

    X = blobs + np.random.RandomState(1).normal(scale=3.0, size=blobs.shape)
    for seed in range(3):
        ours = _lloyd_restarts(X, 12, n_init=4, max_iter=100, seed=seed, verbose=0, desc="")
        theirs = KMeans(12, n_init=4, max_iter=100, random_state=seed).fit(X)
        np.testing.assert_array_equal(ours.labels_, theirs.labels_)
        np.testing.assert_array_equal(ours.cluster_centers_, theirs.cluster_centers_)
        assert ours.n_iter_ == theirs.n_iter_
    # and verbose does not change the clusters
    a = KMeansClusterer(12, random_state=0).fit(X).labels_
    b = KMeansClusterer(12, random_state=0, verbose=1).fit(X).labels_
    np.testing.assert_array_equal(a, b)
