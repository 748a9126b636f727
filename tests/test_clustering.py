"""DeepClusterer (TEMI), the label-free choice of K, and KMeansClusterer basics."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skelfs import DeepClusterer, ELFSSelector, KMeansClusterer, estimate_n_clusters
from skelfs.clustering import _temi_loss
from skelfs.neighbors import kneighbors_graph

# Small and fast: a few hundred rows, small heads, short neighbour lists; a higher
# learning rate and a quicker teacher make up for the few hundred steps.
FAST = dict(
    n_neighbors=10,
    epochs=30,
    batch_size=32,
    learning_rate=1e-3,
    teacher_momentum=0.99,
    hidden_size=64,
    projection_size=32,
)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(400, centers=4, n_features=16, cluster_std=1.0, random_state=0)
    return X.astype(np.float32), y


def test_temi_recovers_separated_blobs(blobs):
    X, y = blobs
    c = DeepClusterer(n_clusters=4, random_state=0, **FAST).fit(X)
    assert c.labels_.shape == (X.shape[0],)
    assert c.n_clusters_ == 4
    assert adjusted_rand_score(y, c.labels_) > 0.9


def test_same_seed_same_labels_and_caller_rng_untouched(blobs):
    X, _ = blobs
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = DeepClusterer(n_clusters=4, random_state=7, **FAST).fit(X)
    after = torch.rand(1)
    b = DeepClusterer(n_clusters=4, random_state=7, **FAST).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    assert before.item() == after.item()  # the global torch stream was not consumed


def test_different_seed_trains_differently(blobs):
    X, _ = blobs
    a = DeepClusterer(n_clusters=4, random_state=0, **FAST).fit(X)
    b = DeepClusterer(n_clusters=4, random_state=1, **FAST).fit(X)
    assert not np.array_equal(a.loss_curve_, b.loss_curve_)


def test_labels_come_from_the_lowest_loss_head(blobs):
    X, _ = blobs
    c = DeepClusterer(n_clusters=4, n_heads=3, random_state=0, **FAST).fit(X)
    assert c.head_losses_.shape == (3,)
    assert c.loss_curve_.shape == (c.n_epochs_, 3)
    assert c.best_head_ == int(np.argmin(c.head_losses_))
    np.testing.assert_array_equal(c.head_losses_, c.loss_curve_[-1])


def test_precomputed_neighbour_graph_matches_search(blobs):
    X, _ = blobs
    graph = kneighbors_graph(X, 10, backend="exact")
    a = DeepClusterer(n_clusters=4, random_state=0, knn_backend="exact", **FAST).fit(X)
    b = DeepClusterer(n_clusters=4, random_state=0, neighbors=graph, **FAST).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_auto_epochs_target_a_fixed_number_of_steps():
    from skelfs.clustering import _auto_epochs

    assert _auto_epochs(100_000, 256) == 6  # 391 steps per epoch -> 2346 steps
    assert _auto_epochs(10_000, 256) == 50  # 40 steps per epoch -> 2000 steps
    assert _auto_epochs(10_000_000, 256) == 1
    assert _auto_epochs(50, 256) == 200  # capped


def test_temi_loss_matches_a_hand_computation():
    # One head, two clusters, one pair; teacher probabilities are exactly one-hot-ish.
    t = 1.0
    s_a = torch.tensor([[[2.0, 0.0]]])
    s_b = torch.tensor([[[0.0, 1.0]]])
    t_a = torch.tensor([[[1.0, 0.0]]])
    t_b = torch.tensor([[[0.5, 0.5]]])
    prior = torch.tensor([[0.25, 0.75]])
    beta = 0.6
    loss, _, _ = _temi_loss(s_a, s_b, t_a, t_b, prior, t, t, beta)

    def softmax(v):
        e = np.exp(np.asarray(v) - np.max(v))
        return e / e.sum()

    ps_a, ps_b = softmax([2.0, 0.0]), softmax([0.0, 1.0])
    qt_a, qt_b = softmax([1.0, 0.0]), softmax([0.5, 0.5])
    pk = np.array([0.25, 0.75])
    weight = float((qt_a * qt_b).sum())

    def neg_pmi(p, q):
        return -np.log(((p * q) ** beta / pk).sum())

    expected = weight * 0.5 * (neg_pmi(ps_a, qt_b) + neg_pmi(ps_b, qt_a))
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_loss_gradient_reaches_the_student_only():
    s_a = torch.randn(2, 5, 3, requires_grad=True)
    s_b = torch.randn(2, 5, 3, requires_grad=True)
    t_a = torch.randn(2, 5, 3, requires_grad=True)
    t_b = torch.randn(2, 5, 3, requires_grad=True)
    prior = torch.full((2, 3), 1 / 3)
    loss, _, _ = _temi_loss(s_a, s_b, t_a, t_b, prior, 0.1, 0.1, 0.6)
    loss.sum().backward()
    assert s_a.grad is not None and s_a.grad.abs().sum() > 0
    assert t_a.grad is None and t_b.grad is None


def test_n_clusters_none_is_estimated_without_labels():
    X, y = make_blobs(600, centers=5, n_features=10, cluster_std=0.6, random_state=3)
    k, gaps = estimate_n_clusters(X, random_state=0)
    assert k == 5
    assert max(gaps, key=gaps.get) == 5
    c = DeepClusterer(random_state=0, **FAST).fit(X)
    assert c.n_clusters_ == 5
    assert adjusted_rand_score(y, c.labels_) > 0.9


def test_silhouette_method_still_available():
    X, _ = make_blobs(300, centers=3, n_features=5, cluster_std=0.5, random_state=0)
    k, scores = estimate_n_clusters(X, method="silhouette", random_state=0)
    assert k == 3 and k in scores
    with pytest.raises(ValueError, match="method"):
        estimate_n_clusters(X, method="elbow")


@pytest.mark.parametrize(
    "param, value, error",
    [
        ("n_heads", 0, ValueError),
        ("n_heads", 1.5, TypeError),
        ("n_neighbors", 0, ValueError),
        ("epochs", 0, ValueError),
        ("batch_size", -1, ValueError),
        ("learning_rate", 0.0, ValueError),
        ("temperature", -0.1, ValueError),
        ("teacher_momentum", 1.5, ValueError),
        ("temi_beta", 0.0, ValueError),
        ("warmup", 2.0, ValueError),
    ],
)
def test_bad_parameters_name_themselves(blobs, param, value, error):
    X, _ = blobs
    with pytest.raises(error, match=param):
        DeepClusterer(n_clusters=4, **{**FAST, param: value}).fit(X)


def test_too_many_clusters_and_bad_device_are_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="n_clusters"):
        DeepClusterer(n_clusters=X.shape[0] + 1, **FAST).fit(X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            DeepClusterer(n_clusters=4, device="cuda", **FAST).fit(X)


def test_verbose_shows_progress_on_stderr(blobs, capfd):
    X, _ = blobs
    DeepClusterer(n_clusters=4, verbose=1, **{**FAST, "epochs": 2}).fit(X)
    err = capfd.readouterr().err
    assert "TEMI" in err


def test_float16_and_float64_give_close_results(blobs):
    X, _ = blobs
    a = DeepClusterer(n_clusters=4, random_state=0, **FAST).fit(X.astype(np.float64))
    b = DeepClusterer(n_clusters=4, random_state=0, **FAST).fit(X.astype(np.float16))
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.9


def test_elfs_with_temi_pseudo_labels(blobs):
    X = blobs[0][:150]  # the string "temi" trains default-sized heads: keep the pool small
    sel = ELFSSelector(budget=40, clusterer="temi", beta=0.1, n_clusters=4, random_state=0).fit(X)
    assert sel.n_selected_ == 40
    assert isinstance(sel.clusterer_, DeepClusterer)
    assert sel.clusterer_.random_state is not None  # seeded from the selector
    again = ELFSSelector(budget=40, clusterer="temi", beta=0.1, n_clusters=4, random_state=0).fit(X)
    np.testing.assert_array_equal(sel.sample_indices_, again.sample_indices_)


def test_kmeans_clusterer_estimates_k_with_the_same_rule():
    X, _ = make_blobs(500, centers=4, n_features=6, cluster_std=0.5, random_state=1)
    c = KMeansClusterer(random_state=0).fit(X)
    assert c.n_clusters_ == 4
    assert max(c.n_clusters_scores_, key=c.n_clusters_scores_.get) == 4


# -- the torch Lloyd path (the default on CUDA; algorithm="torch" runs it on CPU) ---------
def test_torch_kmeans_recovers_blobs_and_matches_sklearn_inertia():
    X, y = make_blobs(3000, centers=8, n_features=12, cluster_std=1.5, random_state=3)
    X = X.astype(np.float32)
    t = KMeansClusterer(8, algorithm="torch", device="cpu", random_state=0).fit(X)
    ref = KMeansClusterer(8, algorithm="lloyd", random_state=0).fit(X)
    assert adjusted_rand_score(y, t.labels_) > 0.95
    assert t.cluster_centers_.shape == (8, 12) and t.n_clusters_ == 8

    def inertia(c):
        return float(((X - c.cluster_centers_[c.labels_]) ** 2).sum())

    assert inertia(t) <= 1.01 * inertia(ref)
    # Labels are the nearest centres (the returned centres are the ones assigned to).
    d = ((X[:, None, :] - t.cluster_centers_[None]) ** 2).sum(-1)
    assert np.mean(d.argmin(1) == t.labels_) > 0.999


def test_torch_kmeans_is_seeded_and_streams_blocks(monkeypatch):
    import skelfs.clustering._kernels as kernels

    monkeypatch.setattr(kernels, "_ASSIGN_BLOCK", 256)  # many blocks per pass
    X, _ = make_blobs(2000, centers=5, n_features=6, random_state=0)
    a = KMeansClusterer(5, algorithm="torch", device="cpu", random_state=1).fit(X)
    b = KMeansClusterer(5, algorithm="torch", device="cpu", random_state=1).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert 1 <= a.n_iter_ <= a.max_iter


def test_torch_kmeans_more_clusters_than_distinct_rows():
    X = np.repeat(np.eye(3, dtype=np.float32), 20, axis=0)
    c = KMeansClusterer(5, algorithm="torch", device="cpu", random_state=0).fit(X)
    # Duplicate centres leave clusters empty; ids are renumbered to 0..K'-1.
    assert c.n_clusters_ == 3
    assert adjusted_rand_score(np.repeat(np.arange(3), 20), c.labels_) == 1.0


def test_kmeans_device_and_algorithm_errors():
    X, _ = make_blobs(50, centers=2, random_state=0)
    with pytest.raises(
        ValueError, match='algorithm must be "auto", "lloyd", "minibatch" or "torch"'
    ):
        KMeansClusterer(2, algorithm="elkan").fit(X)
    with pytest.raises(ValueError, match="device"):
        KMeansClusterer(2, device="tpu").fit(X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            KMeansClusterer(2, device="cuda").fit(X)


def test_selector_hands_its_device_to_kmeans():
    X, _ = make_blobs(300, centers=3, n_features=5, random_state=0)
    sel = ELFSSelector(budget=30, device="cpu", random_state=0).fit(X)
    assert sel.clusterer_.device == "cpu"


def test_kmeans_n_init_auto_restarts_up_to_50k_rows_on_every_path(monkeypatch):
    import skelfs.clustering._kernels as kernels
    import skelfs.clustering.kmeans as kmeans_module
    from skelfs import KMeansClusterer

    restarts = []

    class CountingKMeans(kmeans_module.KMeans):
        def fit(self, X, y=None, sample_weight=None):
            restarts.append(self.n_init)
            return super().fit(X, y, sample_weight)

    seeding = kernels._kmeans_plus_plus
    monkeypatch.setattr(kmeans_module, "KMeans", CountingKMeans)
    monkeypatch.setattr(kernels, "_kmeans_plus_plus", lambda *a: restarts.append(1) or seeding(*a))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 8)).astype(np.float32)
    assert KMeansClusterer().n_init == "auto"
    # By the number of rows only: 3 restarts up to the threshold, 1 above, on every path.
    for threshold, expected in ((3000, 3), (2999, 1)):
        monkeypatch.setattr(kmeans_module, "_MINIBATCH_ABOVE", threshold)
        for algorithm in ("lloyd", "minibatch", "torch"):
            restarts.clear()
            auto = KMeansClusterer(5, algorithm=algorithm, batch_size=256, random_state=0).fit(X)
            assert sum(restarts) == expected, algorithm
            fixed = KMeansClusterer(
                5, algorithm=algorithm, n_init=expected, batch_size=256, random_state=0
            ).fit(X)
            np.testing.assert_array_equal(auto.labels_, fixed.labels_, err_msg=algorithm)


def test_kmeans_auto_runs_torch_up_to_50k_rows_and_streams_above(monkeypatch):
    import skelfs.clustering.kmeans as kmeans_module
    from skelfs import KMeansClusterer

    X, _ = make_blobs(400, centers=4, n_features=5, random_state=0)
    monkeypatch.setattr(kmeans_module, "_MINIBATCH_ABOVE", 400)
    auto = KMeansClusterer(4, device="cpu", random_state=0).fit(X)
    torch_path = KMeansClusterer(4, algorithm="torch", device="cpu", random_state=0).fit(X)
    np.testing.assert_array_equal(auto.labels_, torch_path.labels_)
    monkeypatch.setattr(kmeans_module, "_MINIBATCH_ABOVE", 399)
    auto = KMeansClusterer(4, device="cpu", batch_size=100, random_state=0).fit(X)
    streamed = KMeansClusterer(
        4, algorithm="minibatch", device="cpu", batch_size=100, random_state=0
    ).fit(X)
    np.testing.assert_array_equal(auto.labels_, streamed.labels_)
