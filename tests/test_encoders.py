"""TorchEncoder and SentenceTransformerEncoder: raw rows in, embeddings out.

Every model here is built in the test from a fixed seed; nothing is downloaded.
"""

import os
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from skelfs import (
    DynamicsScorer,
    ELFSSelector,
    SentenceTransformerEncoder,
    TorchEncoder,
)
from skelfs.encoders import MEMMAP_PREFIX, owned_outputs


def image_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(2 * 4 * 4, 5),
    )


@pytest.fixture
def images():
    return np.random.RandomState(0).rand(23, 1, 6, 6).astype(np.float32)


class Recorder(torch.nn.Module):
    """Linear layer that records the batch sizes, grad mode and training flag it saw."""

    def __init__(self, d_in=4, d_out=3):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(d_in, d_out)
        self.calls = []

    def forward(self, x):
        self.calls.append((x.shape[0], torch.is_grad_enabled(), self.training, x.dtype))
        return self.linear(x)


def one_by_one(net, X):
    with torch.no_grad():
        return np.vstack(
            [
                net.eval()(torch.as_tensor(X[i : i + 1])).reshape(1, -1).numpy()
                for i in range(len(X))
            ]
        )


def test_output_equals_the_module_row_by_row(images):
    net = image_net()
    Z = TorchEncoder(net, batch_size=4, device="cpu").fit_transform(images)
    assert Z.shape == (23, 5) and Z.dtype == np.float32 and type(Z) is np.ndarray
    np.testing.assert_allclose(Z, one_by_one(net, images), rtol=1e-5, atol=1e-6)


def test_trailing_dimensions_are_flattened(images):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 2, 3)  # (n, 2, 4, 4) feature maps
    Z = TorchEncoder(conv, device="cpu").transform(images)
    assert Z.shape == (23, 32)
    np.testing.assert_allclose(Z, one_by_one(conv, images), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 7, 11, 23, 100])
def test_batch_boundaries_do_not_change_the_output(batch_size):
    X = np.random.RandomState(1).randn(23, 4)
    net = Recorder()
    Z = TorchEncoder(net, batch_size=batch_size, device="cpu").transform(X)
    sizes = [c[0] for c in net.calls]
    full, last = divmod(23, batch_size)
    assert sizes == [batch_size] * full + ([last] if last else [])
    np.testing.assert_allclose(Z, one_by_one(net, X.astype(np.float32)), rtol=1e-5, atol=1e-6)


def test_no_grad_eval_mode_and_modes_restored():
    net = Recorder()
    net.train()
    X = np.random.RandomState(0).randn(10, 4)
    TorchEncoder(net, batch_size=4, device="cpu").transform(X)
    assert all(grad is False and training is False for _, grad, training, _ in net.calls)
    assert net.training and net.linear.training  # put back as it was
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    TorchEncoder(net, device="cpu").transform(X)
    assert not net.training  # an eval module stays in eval mode


def test_dropout_is_off_so_the_output_is_deterministic():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5))
    X = np.random.RandomState(0).randn(20, 4)
    enc = TorchEncoder(net, device="cpu")
    np.testing.assert_array_equal(enc.transform(X), enc.transform(X))
    np.testing.assert_allclose(enc.transform(X), one_by_one(net, X.astype(np.float32)), atol=1e-6)


def test_input_reaches_the_module_in_its_parameter_dtype():
    net = Recorder().double()
    X = np.arange(12, dtype=np.uint8).reshape(3, 4)  # integers arrive as floats
    Z = TorchEncoder(net, device="cpu", dtype="float64").transform(X)
    assert net.calls[0][3] == torch.float64 and Z.dtype == np.float64
    np.testing.assert_allclose(Z, one_by_one(net, X.astype(np.float64)))


@pytest.mark.parametrize("dtype", ["float16", np.float64, np.dtype("float32")])
def test_output_dtype(dtype):
    X = np.random.RandomState(0).randn(9, 4)
    net = Recorder()
    Z = TorchEncoder(net, dtype=dtype, device="cpu").transform(X)
    assert Z.dtype == np.dtype(dtype)
    np.testing.assert_allclose(Z, one_by_one(net, X.astype(np.float32)), rtol=1e-2, atol=1e-3)


def test_a_module_working_in_place_does_not_touch_the_input(tmp_path):
    def doubles_in_place(x):
        return x.mul_(2.0)

    X = np.random.RandomState(0).rand(9, 3).astype(np.float32)
    before = X.copy()
    Z = TorchEncoder(doubles_in_place, batch_size=4).transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(Z, 2 * before)
    T = torch.from_numpy(X.copy())
    TorchEncoder(doubles_in_place, batch_size=4).transform(T)
    np.testing.assert_array_equal(T.numpy(), before)
    np.save(tmp_path / "x.npy", X)  # a read-only memory map, read without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z = TorchEncoder(doubles_in_place).transform(np.load(tmp_path / "x.npy", mmap_mode="r"))
    np.testing.assert_array_equal(Z, 2 * before)


def test_tensor_input_gives_the_same_output(images):
    net = image_net()
    enc = TorchEncoder(net, batch_size=5, device="cpu")
    np.testing.assert_array_equal(enc.transform(torch.from_numpy(images)), enc.transform(images))


def test_a_callable_on_lists_of_texts():
    seen = []

    def embed(texts):
        seen.append(list(texts))
        return torch.tensor([[len(t), t.count(" ")] for t in texts])

    texts = ["a cat", "the dog sat", "hi", "x y z w"]
    Z = TorchEncoder(embed, batch_size=3).fit_transform(texts)
    assert seen == [texts[:3], texts[3:]]
    np.testing.assert_array_equal(Z, [[5, 1], [11, 2], [2, 0], [7, 3]])
    assert Z.dtype == np.float32  # integer outputs become floats
    assert not hasattr(TorchEncoder(embed).fit(texts), "n_features_in_")


def test_output_above_the_threshold_is_a_memmap_with_the_same_values(tmp_path, images):
    net = image_net()
    in_memory = TorchEncoder(net, batch_size=4, device="cpu").transform(images)
    enc = TorchEncoder(net, batch_size=4, device="cpu", max_memory_bytes=100, memmap_dir=tmp_path)
    Z = enc.transform(images)  # 23 x 5 float32 = 460 bytes > 100
    assert isinstance(Z, np.memmap) and not Z.flags.writeable
    path = Z.filename
    assert os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith(MEMMAP_PREFIX) and path.endswith(".npy")
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no partial file left
    np.testing.assert_array_equal(Z, in_memory)
    np.testing.assert_array_equal(np.load(path), in_memory)  # a plain .npy file
    # at the threshold it stays in memory
    at = TorchEncoder(net, device="cpu", max_memory_bytes=460, memmap_dir=tmp_path)
    assert type(at.transform(images)) is np.ndarray
    del Z
    os.remove(path)


def test_a_failed_transform_leaves_no_file(tmp_path):
    def fails_on_second_batch(x):
        if fails_on_second_batch.calls:
            raise RuntimeError("boom")
        fails_on_second_batch.calls += 1
        return x

    fails_on_second_batch.calls = 0
    enc = TorchEncoder(fails_on_second_batch, batch_size=2, max_memory_bytes=0, memmap_dir=tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        enc.transform(np.ones((5, 3)))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"max_memory_bytes": "1GB"}, TypeError, "max_memory_bytes"),
        ({"dtype": "int8"}, ValueError, "dtype"),
        ({"dtype": "nonsense"}, TypeError, "dtype"),
        ({"max_memory_bytes": -1}, ValueError, "max_memory_bytes"),
        ({"memmap_dir": 3}, TypeError, "memmap_dir"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"verbose": -1}, ValueError, "verbose"),
        ({"module": None}, TypeError, "module must be a torch.nn.Module or a callable"),
    ],
)
def test_bad_parameters_are_named(params, error, match):
    enc = TorchEncoder(Recorder()).set_params(**params)
    X = np.ones((3, 4))
    with pytest.raises(error, match=match):
        enc.fit(X)
    with pytest.raises(error, match=match):
        enc.transform(X)


def test_a_missing_memmap_dir_is_named(tmp_path):
    enc = TorchEncoder(Recorder(), max_memory_bytes=0, memmap_dir=tmp_path / "nope")
    with pytest.raises(ValueError, match="memmap_dir=.*nope.* is not an existing directory"):
        enc.transform(np.ones((3, 4)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(ValueError, match='device="cuda" was requested'):
        TorchEncoder(Recorder(), device="cuda").fit(np.ones((3, 4)))


def test_module_is_moved_to_the_device():
    net = Recorder()
    TorchEncoder(net, device="cpu").transform(np.ones((3, 4)))
    assert all(p.device.type == "cpu" for p in net.parameters())


@pytest.mark.parametrize(
    "module, X, error, match",
    [
        (lambda x: (x, x), np.ones((3, 2)), TypeError, "returned a tuple"),
        (lambda x: x[:1], np.ones((3, 2)), ValueError, "returned 1 rows .* for a batch of 3"),
        (lambda x: x.sum(), np.ones((3, 2)), ValueError, "returned a scalar"),
        (lambda x: x, np.array([[1.0, np.nan]]), ValueError, "NaN or infinity"),
        (lambda x: x, np.ones(3), ValueError, "Reshape your data"),
        (lambda x: x, np.ones((0, 3)), ValueError, "0 sample"),
    ],
)
def test_bad_outputs_and_inputs_raise_clear_errors(module, X, error, match):
    with pytest.raises(error, match=match):
        TorchEncoder(module).transform(X)


def test_ragged_output_widths_are_refused():
    def ragged(x):
        return x[:, : 1 + (x.shape[0] == 1)]

    with pytest.raises(ValueError, match="same number of features"):
        TorchEncoder(ragged, batch_size=2).transform(np.ones((3, 4)))


def test_feature_count_checked_after_fit():
    enc = TorchEncoder(lambda x: x).fit(np.ones((3, 4)))
    assert enc.n_features_in_ == 4
    with pytest.raises(ValueError, match="X has 5 features"):
        enc.transform(np.ones((3, 5)))


def test_clone_and_pickle_round_trip(images):
    enc = TorchEncoder(image_net(), batch_size=4, device="cpu")
    again = pickle.loads(pickle.dumps(clone(enc)))
    assert again.module is not enc.module
    np.testing.assert_array_equal(again.transform(images), enc.transform(images))


# -- in front of a selector ------------------------------------------------------------


def fast_elfs(**kwargs):
    return ELFSSelector(
        budget=5, beta=0.1, n_clusters=3, scorer=DynamicsScorer(epochs=3), random_state=0, **kwargs
    )


def test_elfs_on_raw_images_equals_elfs_on_their_embeddings(images):
    net = image_net()
    Z = TorchEncoder(net, device="cpu").transform(images)
    on_embeddings = fast_elfs().fit(Z)
    on_raw = fast_elfs(feature_extractor=TorchEncoder(net, device="cpu")).fit(images)
    np.testing.assert_array_equal(on_raw.sample_indices_, on_embeddings.sample_indices_)
    assert on_raw.feature_extractor_.module is not net  # a clone was fitted
    assert not hasattr(on_raw, "n_features_in_")  # 4-D input: no feature count
    selected = on_raw.transform(images)  # the selected raw rows
    np.testing.assert_array_equal(selected, images[on_raw.sample_indices_])
    with pytest.raises(ValueError, match="23 rows"):
        on_raw.transform(images[:5])
    pipe = make_pipeline(TorchEncoder(net, device="cpu"), fast_elfs()).fit(images)
    np.testing.assert_array_equal(pipe[-1].sample_indices_, on_embeddings.sample_indices_)


def test_a_selector_removes_the_memmap_its_extractor_wrote(tmp_path, images):
    net = image_net()
    enc = TorchEncoder(net, device="cpu", max_memory_bytes=0, memmap_dir=tmp_path)
    before = owned_outputs()
    sel = fast_elfs(feature_extractor=enc).fit(images)
    assert os.listdir(tmp_path) == [] and owned_outputs() == before
    expected = fast_elfs(feature_extractor=TorchEncoder(net, device="cpu")).fit(images)
    np.testing.assert_array_equal(sel.sample_indices_, expected.sample_indices_)
    # a memory map the extractor only passes through is the caller's, and stays
    from sklearn.preprocessing import FunctionTransformer

    Z = enc.transform(images)
    fast_elfs(feature_extractor=FunctionTransformer()).fit(Z)
    assert os.path.exists(Z.filename)
    del Z
    for name in os.listdir(tmp_path):
        os.remove(tmp_path / name)


def test_bad_extractor_output_is_reported(images):
    from sklearn.preprocessing import FunctionTransformer

    drops_rows = FunctionTransformer(lambda x: x.reshape(len(x), -1)[:20])
    with pytest.raises(ValueError, match="feature_extractor's output has 20 rows for the 23"):
        fast_elfs(feature_extractor=drops_rows).fit(images)
    with pytest.raises(ValueError, match="NaN"):
        fast_elfs(feature_extractor=FunctionTransformer(lambda x: x * np.nan)).fit(images[:, 0, 0])


def test_a_2d_pool_keeps_its_feature_count():
    X = np.random.RandomState(0).randn(40, 4)
    sel = fast_elfs(feature_extractor=TorchEncoder(Recorder(), device="cpu")).fit(X)
    assert sel.n_features_in_ == 4
    with pytest.raises(ValueError, match="X has 3 features"):
        sel.transform(X[:, :3])


# -- SentenceTransformerEncoder ------------------------------------------------------------


class ToyModel:
    """A duck-typed sentence-transformers model: (length, words, vowels, digit sum) per text."""

    def __init__(self):
        self.calls = []

    def encode(self, sentences, batch_size=32, normalize_embeddings=False, **kwargs):
        self.calls.append((len(sentences), batch_size, normalize_embeddings, kwargs))
        Z = np.array(
            [
                [
                    len(s),
                    len(s.split()),
                    sum(c in "aeiou" for c in s),
                    sum(map(int, filter(str.isdigit, s))),
                ]
                for s in sentences
            ]
        )
        Z = Z.astype(np.float64)
        if normalize_embeddings:
            Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        return Z


TEXTS = [f"text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(50)]


def test_sentence_encoder_calls_encode_in_chunks():
    model = ToyModel()
    enc = SentenceTransformerEncoder(model, batch_size=2, normalize_embeddings=True)
    Z = enc.fit_transform(TEXTS)
    assert Z.shape == (50, 4) and Z.dtype == np.float32
    # chunks of 16 * batch_size texts, each with the model's batch size and options
    assert [c[:3] for c in model.calls] == [(32, 2, True), (18, 2, True)]
    assert model.calls[0][3] == {"convert_to_numpy": True, "show_progress_bar": False}
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(Z, ToyModel().encode(TEXTS, normalize_embeddings=True), rtol=1e-6)


def test_sentence_encoder_accepts_arrays_and_series_of_texts():
    pd = pytest.importorskip("pandas")
    enc = SentenceTransformerEncoder(ToyModel())
    expected = enc.transform(TEXTS)
    np.testing.assert_array_equal(enc.transform(np.array(TEXTS, dtype=object)), expected)
    np.testing.assert_array_equal(enc.transform(pd.Series(TEXTS)), expected)


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("one string", TypeError, "list of strings"),
        (np.ones((3, 2)), TypeError, "list of strings"),
        (["ok", 3], TypeError, r"X\[1\] is a int"),
        ([], ValueError, "no texts"),
    ],
)
def test_sentence_encoder_input_errors(X, error, match):
    with pytest.raises(error, match=match):
        SentenceTransformerEncoder(ToyModel()).transform(X)


def test_sentence_encoder_parameter_errors():
    with pytest.raises(TypeError, match="model must be a loaded sentence-transformers model"):
        SentenceTransformerEncoder(object()).fit(TEXTS)
    with pytest.raises(TypeError, match="normalize_embeddings"):
        SentenceTransformerEncoder(ToyModel(), normalize_embeddings="yes").fit(TEXTS)


def test_elfs_on_texts_returns_the_selected_texts():
    sel = fast_elfs(feature_extractor=SentenceTransformerEncoder(ToyModel())).fit(TEXTS)
    picked = sel.transform(TEXTS)
    assert picked == [TEXTS[i] for i in sel.sample_indices_] and len(picked) == 5


def test_a_real_tiny_sentence_transformer_built_in_process():
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import BoW, Dense
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import BoW, Dense

    vocab = sorted({w for t in TEXTS for w in t.split()})
    torch.manual_seed(0)
    model = SentenceTransformer(modules=[BoW(vocab=vocab), Dense(len(vocab), 8)], device="cpu")
    enc = SentenceTransformerEncoder(model, batch_size=4, normalize_embeddings=True)
    Z = enc.fit_transform(TEXTS)
    direct = model.encode(TEXTS, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    assert Z.shape == (50, 8)
    np.testing.assert_allclose(Z, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    sel = fast_elfs(feature_extractor=enc).fit(TEXTS)
    assert sel.n_selected_ == 5
