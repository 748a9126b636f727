"""The CUDA path against the CPU path (skipped without a GPU; CI never has one).

Run on a GPU machine with ``pytest tests/test_cuda.py``. CUDA float sums (index_add_,
matmul reductions) are not bit-reproducible against the CPU, so these compare
results, not bits.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skelfs import DeepClusterer, DynamicsScorer, ELFSSelector, KMeansClusterer
from skelfs._probe import probe_accuracy

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(4000, centers=10, n_features=32, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y


def test_kmeans_on_cuda_matches_the_cpu_torch_path(blobs):
    X, y = blobs
    gpu = KMeansClusterer(10, device="cuda", random_state=0).fit(X)  # "auto" -> torch
    cpu = KMeansClusterer(10, algorithm="torch", device="cpu", random_state=0).fit(X)
    assert adjusted_rand_score(cpu.labels_, gpu.labels_) > 0.99
    assert adjusted_rand_score(y, gpu.labels_) > 0.9


def test_kmeans_on_cuda_streams_a_float16_memmap(tmp_path, blobs):
    X, y = blobs
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float16))
    X16 = np.load(path, mmap_mode="r")
    gpu = KMeansClusterer(10, device="cuda", random_state=0).fit(X16)
    assert adjusted_rand_score(y, gpu.labels_) > 0.9


def test_dynamics_on_cuda_rank_rows_like_the_cpu(blobs):
    X, y = blobs
    cpu = DynamicsScorer(device="cpu", random_state=0).fit(X, y).scores_
    gpu = DynamicsScorer(device="cuda", random_state=0).fit(X, y).scores_
    # Dropout and input noise draw from the CUDA generator there: close, not equal.
    assert np.corrcoef(cpu, gpu)[0, 1] > 0.9
    again = DynamicsScorer(device="cuda", random_state=0).fit(X, y).scores_
    assert np.corrcoef(gpu, again)[0, 1] > 0.999


def test_probe_on_cuda_matches_cpu(blobs):
    X, y = blobs
    a = probe_accuracy(X[:3000], y[:3000], X[3000:], y[3000:], device=torch.device("cpu"))
    b = probe_accuracy(X[:3000], y[:3000], X[3000:], y[3000:], device=torch.device("cuda"))
    assert abs(a - b) <= 3 / 1000


def test_elfs_on_cuda_end_to_end(blobs):
    X, y = blobs
    sel = ELFSSelector(budget=0.1, device="cuda", random_state=0).fit(X)
    assert sel.n_selected_ == 400 and np.unique(sel.sample_indices_).size == 400
    assert sel.clusterer_.device == "cuda" and sel.scorer_.device == "cuda"
    # 200 pseudo-label clusters over 10 blobs: the selection covers every blob.
    assert np.unique(y[sel.sample_indices_]).size == 10


def test_temi_on_cuda(blobs):
    X, y = blobs
    c = DeepClusterer(n_clusters=10, device="cuda", epochs=20, random_state=0).fit(X)
    assert adjusted_rand_score(y, c.labels_) > 0.8


def test_torch_encoder_on_cuda_matches_the_cpu(tmp_path):
    from skelfs import TorchEncoder

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten())
    images = np.random.RandomState(0).rand(300, 1, 8, 8).astype(np.float32)
    cpu = TorchEncoder(net, batch_size=64, device="cpu").transform(images)
    enc = TorchEncoder(net, batch_size=64, device="cuda", max_memory_bytes=0, memmap_dir=tmp_path)
    gpu = enc.transform(images)  # the module moves to the GPU; the output comes back
    assert next(net.parameters()).is_cuda and isinstance(gpu, np.memmap)
    # cuDNN convolutions may run in TF32 (10-bit mantissa): compare values, loosely
    np.testing.assert_allclose(gpu, cpu, rtol=1e-2, atol=1e-3)
    tensor_in = enc.set_params(max_memory_bytes=None).transform(torch.from_numpy(images))
    np.testing.assert_allclose(tensor_in, gpu, rtol=1e-5, atol=1e-6)
