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
