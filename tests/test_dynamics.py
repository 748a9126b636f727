import numpy as np
import pytest
import torch

from skelfs import DynamicsScorer
from skelfs.dynamics import SCORES, _RunningDynamics

LN3 = np.log(3.0)
# Two classes, four epochs. softmax([ln 3, 0]) = (0.75, 0.25).
# row 0, pseudo-label 0: right, right, wrong, right.   row 1, pseudo-label 1: never right.
LOGITS = np.array(
    [
        [[LN3, 0.0], [LN3, 0.0]],
        [[LN3, 0.0], [LN3, 0.0]],
        [[0.0, LN3], [LN3, 0.0]],
        [[LN3, 0.0], [LN3, 0.0]],
    ]
)  # (epoch, row, class)
Y = np.array([0, 1])


def run_sequence(logits, y, el2n_epochs, one_row_at_a_time=False):
    stats = _RunningDynamics(len(y), torch.device("cpu"))
    y_t = torch.as_tensor(y)
    for epoch, epoch_logits in enumerate(logits):
        batches = [[i] for i in range(len(y))] if one_row_at_a_time else [list(range(len(y)))]
        for rows in batches:
            idx = torch.as_tensor(rows)
            log_p = torch.log_softmax(torch.as_tensor(epoch_logits[rows], dtype=torch.float32), 1)
            stats.update(idx, log_p, y_t[idx], record_el2n=epoch < el2n_epochs)
    return stats.scores(len(logits))


def test_scores_match_hand_computation():
    s = run_sequence(LOGITS, Y, el2n_epochs=2)
    # AUM: row 0 margins 0.5, 0.5, -0.5, 0.5 -> sum 1.0 (stored negated);
    #      row 1 margin -0.5 every epoch -> sum -2.0
    np.testing.assert_allclose(s["aum"], [-1.0, 2.0], atol=1e-6)
    # forgetting: row 0 has one right->wrong transition; row 1 was never learned -> E = 4
    np.testing.assert_array_equal(s["forgetting"], [1, 4])
    # EL2N over the first 2 epochs: row 0 ||(0.75, 0.25) - (1, 0)|| = sqrt(2) / 4 per epoch;
    # row 1 ||(0.75, 0.25) - (0, 1)|| = 0.75 sqrt(2) per epoch
    np.testing.assert_allclose(s["el2n"], [np.sqrt(2) / 2, 1.5 * np.sqrt(2)], atol=1e-6)
    # entropy of (0.75, 0.25) every epoch, for both rows
    h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    np.testing.assert_allclose(s["entropy"], [h, h], atol=1e-6)
    # confidence: mean p_y = 2.5 / 4 for row 0, 0.25 for row 1 (negated)
    np.testing.assert_allclose(s["confidence"], [-0.625, -0.25], atol=1e-6)
    # variability: std of (0.75, 0.75, 0.25, 0.75) and of a constant
    np.testing.assert_allclose(s["variability"], [np.sqrt(0.046875), 0.0], atol=1e-6)
    # correctness: 3 of 4 epochs right for row 0, none for row 1 (negated)
    np.testing.assert_allclose(s["correctness"], [-0.75, 0.0], atol=1e-6)


def reference_scores(logits, y, el2n_epochs):
    """Plain numpy loop over epochs and rows, written from the definitions."""
    E, n, _ = logits.shape
    out = {k: np.zeros(n) for k in SCORES}
    for i in range(n):
        p = np.exp(logits[:, i]) / np.exp(logits[:, i]).sum(axis=1, keepdims=True)
        p_y = p[:, y[i]]
        other = np.delete(p, y[i], axis=1).max(axis=1)
        correct = p.argmax(axis=1) == y[i]
        out["aum"][i] = -(p_y - other).sum()
        flips = np.sum(correct[:-1] & ~correct[1:])
        out["forgetting"][i] = flips if correct.any() else E
        onehot = np.eye(p.shape[1])[y[i]]
        out["el2n"][i] = np.linalg.norm(p[:el2n_epochs] - onehot, axis=1).sum()
        out["entropy"][i] = -(p * np.log(p)).sum(axis=1).mean()
        out["confidence"][i] = -p_y.mean()
        out["variability"][i] = p_y.std()
        out["correctness"][i] = -correct.mean()
    return out


def test_scores_match_reference_loop_on_random_logits():
    rng = np.random.RandomState(0)
    logits = rng.normal(0, 2, size=(7, 9, 4))
    y = rng.randint(0, 4, size=9)
    got = run_sequence(logits, y, el2n_epochs=3)
    # batching must not matter: one row at a time gives the same sums
    got_rows = run_sequence(logits, y, el2n_epochs=3, one_row_at_a_time=True)
    want = reference_scores(logits, y, el2n_epochs=3)
    for name in SCORES:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(got_rows[name], want[name], atol=1e-5, err_msg=name)


def blobs(n=200, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    X = rng.normal(0, 1, size=(n, 5)) + 3 * np.eye(3, 5)[y]
    return X.astype(np.float32), y


def test_scorer_learns_and_flags_mislabelled_rows_as_hard():
    X, y = blobs()
    y_noisy = y.copy()
    flipped = np.arange(0, 200, 10)
    y_noisy[flipped] = (y[flipped] + 1) % 3
    scorer = DynamicsScorer(epochs=15, random_state=0).fit(X, y_noisy)
    assert scorer.train_accuracy_ > 0.8
    assert scorer.scores_.shape == (200,)
    assert set(scorer.all_scores_) == set(SCORES)
    # AUM ranks the flipped rows among the hardest: their mean rank is in the top fifth
    ranks = np.argsort(np.argsort(-scorer.scores_))
    assert ranks[flipped].mean() < 40


def test_scorer_deterministic_on_cpu():
    X, y = blobs()
    kw = dict(epochs=4, input_noise=0.3, dropout=0.2, hidden_layer_size=16, device="cpu")
    a = DynamicsScorer(random_state=3, **kw).fit(X, y).all_scores_
    b = DynamicsScorer(random_state=3, **kw).fit(X, y).all_scores_
    c = DynamicsScorer(random_state=4, **kw).fit(X, y).all_scores_
    for name in SCORES:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["aum"], c["aum"])


def test_scorer_reads_memmap_in_batches(tmp_path):
    X, y = blobs()
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    a = DynamicsScorer(epochs=3, random_state=0).fit(mm, y).scores_
    b = DynamicsScorer(epochs=3, random_state=0).fit(X, y).scores_
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"difficulty": "loss"}, "difficulty"),
        ({"epochs": 0}, "epochs"),
        ({"hidden_layer_size": 0}, "hidden_layer_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"input_noise": -1.0}, "input_noise"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_parameters(kwargs, match):
    X, y = blobs(30)
    with pytest.raises(ValueError, match=match):
        DynamicsScorer(**kwargs).fit(X, y)


def test_wrong_parameter_type_is_a_type_error():
    # A float where an int belongs is a wrong type (TypeError, as sklearn's check_scalar),
    # no longer a ValueError: one exception type per kind of error (skelfs._validation).
    X, y = blobs(30)
    with pytest.raises(TypeError, match="batch_size"):
        DynamicsScorer(batch_size=1.5).fit(X, y)


def test_single_pseudo_label_rejected():
    X, _ = blobs(30)
    with pytest.raises(ValueError, match="at least 2"):
        DynamicsScorer().fit(X, np.zeros(30))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    X, y = blobs(30)
    with pytest.raises(ValueError, match="CUDA is not available"):
        DynamicsScorer(device="cuda").fit(X, y)


@pytest.mark.parametrize("hidden", [None, 7])
def test_head_init_is_nn_linear_default_from_the_generator_only(hidden):
    # nn.Linear's default init (uniform in +-1/sqrt(fan_in), weight then bias), drawn
    # from the private generator: the global torch RNG is neither read nor advanced.
    from skelfs.dynamics import _build_head

    state = torch.get_rng_state()
    head = _build_head(16, 5, hidden, 0.0, torch.Generator().manual_seed(4), None)
    assert torch.equal(torch.get_rng_state(), state)
    gen = torch.Generator().manual_seed(4)
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    for layer in linears:
        n_out, n_in = layer.weight.shape
        bound = 1.0 / np.sqrt(n_in)
        expected_w = torch.empty(n_out, n_in).uniform_(-bound, bound, generator=gen)
        expected_b = torch.empty(n_out).uniform_(-bound, bound, generator=gen)
        assert torch.equal(layer.weight, expected_w) and torch.equal(layer.bias, expected_b)
        assert layer.weight.device.type == "cpu" and layer.weight.requires_grad
    assert [m.out_features for m in linears] == ([5] if hidden is None else [hidden, 5])


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_hand_written_linear_step_follows_torch_sgd(dropout):
    # The linear head's hand-written gradient and update must follow autograd +
    # torch.optim.SGD (momentum, weight decay on every parameter) step for step.
    from skelfs.dynamics import _build_head, cosine_learning_rates, sgd_step

    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((8 * 32, 16)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(5, size=8 * 32))

    def head():
        gen = torch.Generator().manual_seed(1)
        return _build_head(16, 5, None, dropout, gen, torch.Generator().manual_seed(2))

    fast_head, ref_head = head(), head()
    step = sgd_step(fast_head, 5e-3)
    opt = torch.optim.SGD(ref_head.parameters(), lr=0.0, momentum=0.9, weight_decay=5e-3)
    lrs = cosine_learning_rates(0.5, 8)
    np.testing.assert_allclose(
        lrs[:3], [0.5, 0.5 * (1 + np.cos(np.pi / 8)) / 2, 0.25 * (1 + np.cos(np.pi / 4))]
    )
    for t, lr in enumerate(lrs):
        xb, yb = X[32 * t : 32 * (t + 1)], y[32 * t : 32 * (t + 1)]
        fast_log_p, residual = torch.empty(32, 5), torch.empty(32, 5)
        step(xb, yb, lr, fast_log_p, residual)
        for group in opt.param_groups:
            group["lr"] = lr
        ref_log_p = torch.log_softmax(ref_head(xb), dim=1)
        opt.zero_grad()
        torch.nn.functional.nll_loss(ref_log_p, yb).backward()
        opt.step()
        torch.testing.assert_close(fast_log_p, ref_log_p.detach(), rtol=1e-5, atol=1e-5)
        onehot = torch.nn.functional.one_hot(yb, 5).float()
        torch.testing.assert_close(residual, ref_log_p.detach().exp() - onehot)
    for fast, ref in zip(fast_head.parameters(), ref_head.parameters()):
        torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)
        assert not torch.equal(ref, head()[1].weight if ref.ndim == 2 else head()[1].bias)


def test_chunked_training_records_every_row_once_per_epoch(monkeypatch):
    # Rows are read and recorded a chunk of batches at a time; every row must still be
    # recorded exactly once per epoch, with its own pseudo-label.
    from skelfs import dynamics

    seen = []
    original = dynamics._RunningDynamics.update

    def recording_update(self, idx, log_p, y, *, record_el2n, residual=None):
        seen.append((idx.clone(), y.clone()))
        return original(self, idx, log_p, y, record_el2n=record_el2n, residual=residual)

    monkeypatch.setattr(dynamics._RunningDynamics, "update", recording_update)
    monkeypatch.setattr(dynamics, "chunk_rows", lambda batch_size, n_classes: 3 * batch_size)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 4))
    labels = rng.integers(3, size=1000)
    DynamicsScorer(epochs=2, batch_size=64, random_state=0).fit(X, labels)
    assert len(seen) == 2 * -(-1000 // (3 * 64))
    for epoch in range(2):
        chunks = seen[epoch * 6 : (epoch + 1) * 6]
        rows = torch.cat([idx for idx, _ in chunks]).numpy()
        np.testing.assert_array_equal(np.sort(rows), np.arange(1000))
        np.testing.assert_array_equal(torch.cat([yy for _, yy in chunks]).numpy(), labels[rows])


@pytest.mark.parametrize(
    "n, batch_size, expected",
    [(10_000, 256, 20), (25_600, 256, 20), (51_200, 256, 10), (102_400, 256, 5), (10**7, 256, 5)],
)
def test_auto_epochs_trains_about_2000_steps_in_5_to_20_epochs(n, batch_size, expected):
    from skelfs.dynamics import auto_epochs

    assert auto_epochs("auto", n, batch_size) == expected
    assert auto_epochs(7, n, batch_size) == 7


def test_epochs_auto_is_the_default_and_recorded_in_epochs_():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    small = DynamicsScorer(random_state=0).fit(X[:500], y[:500])
    assert DynamicsScorer().epochs == "auto" and small.epochs_ == 20
    # 6000 rows at batch 16 are 375 steps an epoch: 6 epochs reach 2000 steps.
    large = DynamicsScorer(batch_size=16, random_state=0).fit(X, y)
    assert large.epochs_ == 6
    fixed = DynamicsScorer(batch_size=16, epochs=6, random_state=0).fit(X, y)
    np.testing.assert_array_equal(large.scores_, fixed.scores_)
    with pytest.raises(TypeError, match="'auto'"):
        DynamicsScorer(epochs="many").fit(X, y)
