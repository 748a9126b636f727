import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skelfs import (
    CoresetEstimator,
    CoresetSampler,
    DoubleEndPruner,
    DynamicsScorer,
    ELFSSelector,
    KMeansClusterer,
)


@pytest.fixture(scope="module")
def pool():
    X, y = make_blobs(300, n_features=8, centers=4, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y


def fast(**kw):
    """An ELFSSelector that runs in well under a second on the test pools."""
    kw.setdefault("n_clusters", 4)
    return ELFSSelector(scorer=DynamicsScorer(epochs=4, random_state=0), **kw)


def test_one_line_call_needs_no_component(pool):
    X, _ = pool
    sel = ELFSSelector(budget=0.1).fit(X)
    assert sel.n_selected_ == 30
    mask = sel.get_support()
    assert mask.dtype == bool and mask.shape == (300,) and mask.sum() == 30
    idx = sel.get_support(indices=True)
    assert np.all(np.diff(idx) > 0) and np.array_equal(np.flatnonzero(mask), idx)
    assert sel.scores_.shape == (300,) and sel.pseudo_labels_.shape == (300,)
    assert sel.beta_ in sel.auto_beta_scores_  # beta="auto" by default
    assert sel.n_clusters_ >= 2


def test_same_random_state_same_selection(pool):
    X, _ = pool
    a = ELFSSelector(budget=0.2, random_state=7).fit(X).get_support(indices=True)
    b = ELFSSelector(budget=0.2, random_state=7).fit(X).get_support(indices=True)
    c = ELFSSelector(budget=0.2, random_state=8).fit(X).get_support(indices=True)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_budget_int_and_float(pool):
    X, _ = pool
    assert fast(budget=17, beta=0.1).fit(X).n_selected_ == 17
    assert fast(budget=0.29, beta=0.1).fit(X).n_selected_ == 87  # floor(0.29 * 300)


def test_explicit_beta_and_hard_sampling_drop_the_hard_end(pool):
    X, _ = pool
    sel = fast(budget=0.2, beta=0.3, sampling="hard").fit(X)
    assert sel.beta_ == 0.3
    # per cluster, no selected row is harder than every unselected row of its cluster
    for c in np.unique(sel.pseudo_labels_):
        in_c = sel.pseudo_labels_ == c
        chosen = sel.get_support() & in_c
        if chosen.any():
            hardest = np.sort(sel.scores_[in_c])[::-1][: int(np.floor(0.3 * in_c.sum()))]
            assert sel.scores_[chosen].max() <= hardest.min()


def test_infeasible_beta_raises_before_the_expensive_stages(pool):
    X, _ = pool
    with pytest.raises(ValueError, match="beta=0.6.*budget"):
        ELFSSelector(budget=0.5, beta=0.6).fit(X)


def test_auto_beta_only_tries_feasible_values(pool):
    X, _ = pool
    sel = fast(budget=0.7, beta="auto").fit(X)
    assert max(sel.auto_beta_scores_) <= 0.3 + 1e-9
    best = max(sel.auto_beta_scores_.values())
    assert sel.beta_ == min(b for b, acc in sel.auto_beta_scores_.items() if acc == best)
    assert sel.n_selected_ == 210


def test_set_params_on_nested_components_and_clone(pool):
    sel = ELFSSelector(scorer=DynamicsScorer(epochs=5)).set_params(scorer__epochs=10)
    assert sel.scorer.epochs == 10
    sel2 = clone(sel)
    assert sel2.scorer is not sel.scorer and sel2.scorer.epochs == 10
    sel.set_params(clusterer=KMeansClusterer(n_clusters=3), clusterer__n_init=1)
    assert sel.get_params()["clusterer__n_init"] == 1


def test_component_instances_keep_their_settings_and_are_not_mutated(pool):
    X, _ = pool
    clusterer = KMeansClusterer(n_clusters=5, random_state=1)
    scorer = DynamicsScorer(difficulty="el2n", epochs=3, random_state=0)
    pruner = DoubleEndPruner(beta=0.2, sampling="hard", random_state=0)
    sel = ELFSSelector(
        budget=0.1, n_clusters=3, clusterer=clusterer, scorer=scorer, pruner=pruner, beta=0.0
    ).fit(X)
    assert sel.n_clusters_ == 5  # the instance's n_clusters, not the shortcut's
    assert sel.beta_ == 0.2  # the pruner's beta
    np.testing.assert_array_equal(sel.scores_, sel.scorer_.all_scores_["el2n"])
    assert not hasattr(clusterer, "labels_") and not hasattr(scorer, "scores_")


@pytest.mark.parametrize("score", ["forgetting", "el2n", "entropy", "variability"])
def test_difficulty_shortcut_reaches_the_scorer(pool, score):
    X, _ = pool
    sel = ELFSSelector(budget=0.1, n_clusters=4, difficulty=score, beta=0.1).fit(X)
    np.testing.assert_array_equal(sel.scores_, sel.scorer_.all_scores_[score])


def test_bad_shortcuts(pool):
    X, _ = pool
    with pytest.raises(ValueError, match="clusterer"):
        ELFSSelector(clusterer="dbscan").fit(X)
    with pytest.raises(ValueError, match="sampling"):
        ELFSSelector(sampling="easy").fit(X)
    with pytest.raises(TypeError, match="scorer"):
        ELFSSelector(scorer="aum").fit(X)
    with pytest.raises(ValueError, match="n_clusters"):
        ELFSSelector(n_clusters=301).fit(X)


def test_pipeline_last_step(pool):
    X, _ = pool
    pipe = make_pipeline(StandardScaler(), PCA(n_components=4), fast(budget=0.1, beta=0.1))
    pipe.fit(X)
    sel = pipe[-1]
    assert sel.n_selected_ == 30 and sel.n_features_in_ == 4
    out = pipe.fit_transform(X)
    assert out.shape == (30, 4)
    np.testing.assert_allclose(out, pipe[:-1].transform(X)[pipe[-1].get_support()], rtol=1e-5)


def test_fit_transform_returns_selected_rows_keeping_dataframe_index(pool):
    X, _ = pool
    df = pd.DataFrame(X, index=[f"row{i}" for i in range(300)], columns=[f"f{j}" for j in range(8)])
    sel = fast(budget=0.1, beta=0.1)
    out = sel.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == [f"row{i}" for i in sel.get_support(indices=True)]
    np.testing.assert_array_equal(sel.transform(df).to_numpy(), X[sel.get_support()])
    with pytest.raises(ValueError, match="300 rows; X has 299"):
        sel.transform(df.iloc[:299])


def test_coreset_estimator_grid_search_over_beta(pool):
    X, y = pool
    est = CoresetEstimator(fast(budget=0.3), LogisticRegression())
    grid = GridSearchCV(est, {"selector__beta": [0.0, 0.1, 0.3]}, cv=3).fit(X, y)
    assert grid.best_params_["selector__beta"] in (0.0, 0.1, 0.3)
    assert grid.best_estimator_.selector_.n_selected_ == 90  # 30% of 300 rows in the refit
    assert grid.best_score_ > 0.6


def test_coreset_estimator_reads_labels_of_selected_rows_only(pool):
    X, y = pool
    support = fast(budget=0.1, beta=0.1).fit(X).get_support()
    y_hidden = np.where(support, y, -1)  # unselected rows carry a label nobody annotated
    est = CoresetEstimator(fast(budget=0.1, beta=0.1), LogisticRegression()).fit(X, y_hidden)
    np.testing.assert_array_equal(est.selector_.get_support(), support)
    assert -1 not in est.classes_
    assert est.predict(X).shape == (300,) and est.score(X, y) > 0.5


def test_coreset_sampler_fit_resample(pool):
    X, y = pool
    sampler = CoresetSampler(fast(budget=25, beta=0.1))
    X_sel, y_sel = sampler.fit_resample(X, y)
    assert X_sel.shape == (25, 8) and y_sel.shape == (25,)
    np.testing.assert_array_equal(X_sel, X[sampler.sample_indices_])
    with pytest.raises(ValueError, match="y has 299 entries but X has 300"):
        sampler.fit_resample(X, y[:-1])


def test_pickle_round_trip(pool):
    X, _ = pool
    sel = fast(budget=0.1, beta=0.1).fit(X)
    again = pickle.loads(pickle.dumps(sel))
    np.testing.assert_array_equal(again.get_support(), sel.get_support())
    np.testing.assert_array_equal(again.scores_, sel.scores_)


def test_feature_extractor_applied_first(pool):
    X, _ = pool
    sel = fast(budget=0.1, beta=0.1, feature_extractor=PCA(n_components=3)).fit(X)
    assert sel.scorer_.n_features_in_ == 3 and sel.n_features_in_ == 8


def test_identical_and_duplicate_rows_still_give_exactly_the_budget():
    X = np.ones((50, 4))
    with pytest.warns(UserWarning, match="one pseudo-label cluster") as caught:
        sel = ELFSSelector(budget=7, random_state=0).fit(X)
    assert caught[0].filename == __file__  # the user's fit call, not skelfs' insides
    assert sel.n_selected_ == 7 and np.unique(sel.sample_indices_).size == 7
    assert sel.scorer_ is None and np.all(sel.scores_ == 0)
    X = np.repeat(np.random.RandomState(0).rand(5, 4), 10, axis=0)  # 5 rows, 10 copies each
    sel = ELFSSelector(budget=12, random_state=0).fit(X)
    assert sel.n_selected_ == 12 and np.unique(sel.sample_indices_).size == 12


def test_kmeans_estimates_k_label_free():
    X, _ = make_blobs(600, n_features=5, centers=6, cluster_std=0.5, random_state=1)
    km = KMeansClusterer(random_state=0).fit(X)
    assert km.n_clusters_ == 6
    assert max(km.n_clusters_scores_, key=km.n_clusters_scores_.get) == 6


@pytest.mark.parametrize("refit", [False, True])
def test_interrupted_fit_leaves_the_estimator_as_it_was(pool, monkeypatch, refit):
    from skelfs import dynamics

    X, _ = pool
    sel = fast(budget=0.1, beta=0.1)
    if refit:
        sel.fit(X)
    before = dict(vars(sel))
    calls = {"n": 0}
    original = dynamics._RunningDynamics.update

    def interrupt_on_third_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(dynamics._RunningDynamics, "update", interrupt_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        sel.fit(X[:200])  # a different pool: every fitted attribute would change
    assert calls["n"] == 3
    assert vars(sel).keys() == before.keys()
    for name, value in before.items():
        assert vars(sel)[name] is value, name
    if not refit:
        assert not [a for a in vars(sel) if a.endswith("_")]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_n_jobs_caps_torch_and_blas_threads_during_fit_and_restores_them(pool, monkeypatch, n_jobs):
    import torch
    from threadpoolctl import threadpool_info

    X, _ = pool
    seen = {}
    original = DynamicsScorer._train

    def recording_train(self, *args, **kwargs):
        seen["torch"] = torch.get_num_threads()
        seen["pools"] = {info["num_threads"] for info in threadpool_info()}
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamicsScorer, "_train", recording_train)
    before = torch.get_num_threads()
    fast(budget=0.1, beta=0.1, n_jobs=n_jobs).fit(X)
    assert seen["torch"] == n_jobs
    assert max(seen["pools"]) <= n_jobs
    assert torch.get_num_threads() == before


def test_n_jobs_restored_after_a_failed_fit_and_bad_values_rejected(pool):
    import torch

    X, _ = pool
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="n_clusters"):  # raised inside the thread limit
        ELFSSelector(n_clusters=10_000, n_jobs=1).fit(X)
    with pytest.raises(ValueError, match="n_jobs"):
        fast(budget=0.1, beta=0.1, n_jobs=0).fit(X)
    assert torch.get_num_threads() == before


def test_memory_caches_the_expensive_stages_across_betas(tmp_path, monkeypatch):
    from joblib import Memory

    import skelfs.selector as selector_module

    X, _ = make_blobs(200, centers=4, n_features=5, random_state=0)
    calls = []
    real = selector_module._fit_stages

    def counting(clusterer, scorer, Z):
        calls.append(1)
        return real(clusterer, scorer, Z)

    monkeypatch.setattr(selector_module, "_fit_stages", counting)
    memory = Memory(tmp_path, verbose=0)
    params = dict(budget=0.2, n_clusters=4, scorer=DynamicsScorer(epochs=3), random_state=0)
    uncached = {b: ELFSSelector(beta=b, **params).fit(X) for b in (0.0, 0.1, 0.2)}
    assert len(calls) == 3
    calls.clear()
    for b in (0.0, 0.1, 0.2):
        cached = ELFSSelector(beta=b, memory=memory, **params).fit(X)
        np.testing.assert_array_equal(cached.sample_indices_, uncached[b].sample_indices_)
        np.testing.assert_array_equal(cached.scores_, uncached[b].scores_)
        assert cached.beta_ == b
    assert len(calls) == 1  # the stages ran once; the other betas hit the cache
    # another seed, or other data, is another key
    ELFSSelector(beta=0.1, memory=memory, **dict(params, random_state=1)).fit(X)
    ELFSSelector(beta=0.1, memory=memory, **params).fit(X[:150])
    assert len(calls) == 3
    # a path works as well as a Memory
    ELFSSelector(beta=0.1, memory=str(tmp_path), **params).fit(X)


def test_coverage_sampling_end_to_end_exact_budget_and_repeatable():
    X, _ = make_blobs(300, centers=5, n_features=6, random_state=3)
    params = dict(budget=30, sampling="coverage", scorer=DynamicsScorer(epochs=3), random_state=0)
    a = ELFSSelector(**params).fit(X)
    b = ELFSSelector(**params).fit(X)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert a.n_selected_ == 30 and np.unique(a.sample_indices_).size == 30
    # no selected row is among the hardest beta_ fraction of its pseudo-label cluster
    for c in np.unique(a.pseudo_labels_):
        members = np.flatnonzero(a.pseudo_labels_ == c)
        n_drop = int(np.floor(a.beta_ * members.size + 1e-9))
        hardest = members[np.argsort(-a.scores_[members], kind="stable")[:n_drop]]
        ties = np.isin(a.scores_[hardest], a.scores_[np.setdiff1d(members, hardest)])
        assert not np.isin(hardest[~ties], a.sample_indices_).any()
