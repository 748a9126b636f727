"""Feature extractors: turn raw rows (images, texts, tabular rows) into embeddings.

``TorchEncoder`` wraps any ``torch.nn.Module`` (or any callable on a batch) as a batched,
gradient-free scikit-learn transformer; ``SentenceTransformerEncoder`` wraps a loaded
sentence-transformers model (the optional ``text`` extra). Both are stateless: ``fit`` only
checks its input, ``transform`` encodes. Use them as ``ELFSSelector(feature_extractor=...)``
or as the first step of a :class:`sklearn.pipeline.Pipeline`. Nothing is downloaded: the
user brings the model.

Large outputs go to a memory-mapped ``.npy`` file rather than to memory (see
``max_memory_bytes``); a selector that encodes its pool with a ``feature_extractor``
removes that file after ``fit``, anywhere else it is the caller's to delete.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import _check_feature_names, _check_n_features, _num_samples

from ._utils import progress, reject_sparse, resolve_device
from ._validation import (
    NO_VALIDATION,
    Bool,
    Check,
    Flag,
    Int,
    ValidatedParamsMixin,
    check_device,
)

#: Output dtypes an encoder writes.
OUTPUT_DTYPES = ("float32", "float16", "float64")
#: Default ``max_memory_bytes``: outputs above 1 GiB go to a memory-mapped file.
MAX_MEMORY_BYTES = 2**30
#: File name prefix of the memory-mapped outputs (in ``memmap_dir``).
MEMMAP_PREFIX = "skelfs-encoded-"

# Paths of the memory-mapped outputs written by this process; a selector that encoded its
# pool removes its file after fit (``discard_output``), and never a file it did not write.
_OWNED_FILES: set[str] = set()


def _check_dtype(dtype):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(
            f"dtype must be one of {OUTPUT_DTYPES} (a name or a numpy dtype), got {dtype!r}."
        ) from None
    if name not in OUTPUT_DTYPES:
        raise ValueError(
            f"dtype={dtype!r} is not supported: the output dtype must be one of {OUTPUT_DTYPES}."
        )


def _check_memmap_dir(memmap_dir):
    if memmap_dir is not None and not isinstance(memmap_dir, (str, os.PathLike)):
        raise TypeError(
            f"memmap_dir must be None (the system's temporary directory) or a directory path, "
            f"got {memmap_dir!r}."
        )


def _is_items(X):
    """True when ``X`` is a sequence of non-numeric items (texts, images, dicts, ...)."""
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and not isinstance(X[0], (numbers.Number, list, tuple, np.ndarray))
    if isinstance(X, np.ndarray) or type(X).__module__.startswith("pandas"):
        arr = np.asarray(X) if not isinstance(X, np.ndarray) else X
        if arr.ndim == 1 and arr.dtype.kind in "OUS":
            return arr.size > 0 and not isinstance(arr[0], numbers.Number)
    return False


def owned_outputs():
    """The paths of the memory-mapped outputs the encoders of this process wrote (a copy)."""
    return set(_OWNED_FILES)


def discard_output(Z):
    """Remove the memory-mapped file behind ``Z`` if an encoder of this process wrote it.

    ``Z`` stays readable on POSIX systems until it is garbage-collected (the mapping keeps
    the data); any other array, and a memory map of a file the encoders did not write, is
    left alone. Returns True when a file was removed.
    """
    path = getattr(Z, "filename", None)
    if not isinstance(Z, np.memmap) or path is None or path not in _OWNED_FILES:
        return False
    _OWNED_FILES.discard(path)
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


class _Output:
    """The (n, d) output, in memory or in a ``.npy`` file written atomically.

    The file is written as ``<name>.npy.partial`` next to its final name and renamed once
    complete, so a ``.npy`` file with the prefix is always whole; on any error (an
    interrupt included) the partial file is removed.
    """

    def __init__(self, n_rows, dtype, max_memory_bytes, memmap_dir):
        self.n_rows, self.dtype = n_rows, np.dtype(dtype)
        self.max_memory_bytes, self.memmap_dir = max_memory_bytes, memmap_dir
        self.array = self.path = self.partial = None

    def allocate(self, width):
        nbytes = self.n_rows * width * self.dtype.itemsize
        if self.max_memory_bytes is None or nbytes <= self.max_memory_bytes:
            self.array = np.empty((self.n_rows, width), dtype=self.dtype)
            return
        directory = tempfile.gettempdir() if self.memmap_dir is None else self.memmap_dir
        if not os.path.isdir(directory):
            raise ValueError(
                f"memmap_dir={str(directory)!r} is not an existing directory; the output "
                f"({nbytes / 1e9:.2f} GB, above max_memory_bytes={self.max_memory_bytes}) is "
                f"written to a memory-mapped file there. Create it or pass another directory."
            )
        fd, path = tempfile.mkstemp(prefix=MEMMAP_PREFIX, suffix=".npy", dir=directory)
        os.close(fd)  # reserves the final name; the content goes to the partial file first
        self.path, self.partial = os.path.abspath(path), os.path.abspath(path) + ".partial"
        self.array = np.lib.format.open_memmap(
            self.partial, mode="w+", dtype=self.dtype, shape=(self.n_rows, width)
        )

    def finish(self):
        if self.path is None:
            return self.array
        self.array.flush()
        del self.array
        os.replace(self.partial, self.path)
        self.partial = None
        _OWNED_FILES.add(self.path)
        return np.load(self.path, mmap_mode="r")

    def abort(self):
        self.array = None
        for path in (self.partial, self.path):
            if path is not None:
                try:
                    os.unlink(path)
                except OSError:
                    pass


class _BatchEncoder(ValidatedParamsMixin, TransformerMixin, BaseEstimator):
    """Shared by the encoders: input checks, the batch loop, progress, memory-mapped output.

    Subclasses set ``_desc`` and implement ``_check_model()``, ``_reader(X)`` (returns
    ``(n_rows, read(start, stop))``) and ``_encode(batch, context)`` (returns an array or
    tensor whose first axis is the batch), optionally ``_context()``.
    """

    _desc = "encoding"
    _parameter_constraints: ClassVar[dict] = {
        "batch_size": Int(1),
        "dtype": Check(_check_dtype),
        "max_memory_bytes": Int(0, none=True),
        "memmap_dir": Check(_check_memmap_dir),
        "verbose": Flag(),
    }

    def fit(self, X, y=None):
        """Check the parameters and ``X``; nothing is learned (the encoder is stateless).

        Reads ``X`` once, a batch at a time, to check its values (finite numbers, or
        texts); no row is encoded.

        Parameters
        ----------
        X : array-like, tensor or list
            The rows to encode later (see the class docstring for the accepted inputs).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The encoder.
        """
        n_rows, read = self._start_fit(X)
        chunk = self._chunk_size()
        for start in range(0, n_rows, chunk):
            self._check_batch(read(start, min(start + chunk, n_rows)))
        return self

    def fit_transform(self, X, y=None):
        """Check the parameters and ``X``, then encode it (one pass over ``X``).

        Parameters
        ----------
        X : array-like, tensor or list
            The rows to encode (see the class docstring for the accepted inputs).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        Z : ndarray or numpy.memmap of shape (n_samples, n_output_features)
            As :meth:`transform` returns it.
        """
        self._start_fit(X)
        return self.transform(X)

    def _start_fit(self, X):
        self._validate_params()
        self._check_model()
        reader = self._reader(X)
        for name in ("n_features_in_", "feature_names_in_"):  # from an earlier fit
            vars(self).pop(name, None)
        if _has_2d_shape(X):
            _check_n_features(self, X, reset=True)
            _check_feature_names(self, X, reset=True)
        return reader

    def transform(self, X):
        """Encode ``X`` batch by batch, without gradients, into a 2-D float array.

        Parameters
        ----------
        X : array-like, tensor or list
            The rows to encode (see the class docstring for the accepted inputs).

        Returns
        -------
        Z : ndarray or numpy.memmap of shape (n_samples, n_output_features)
            One row per input row, in ``dtype``; trailing output dimensions are flattened.
            Above ``max_memory_bytes`` a read-only memory map of a ``.npy`` file in
            ``memmap_dir`` (its path is ``Z.filename``; delete the file when done).
        """
        self._validate_params()
        self._check_model()
        if hasattr(self, "n_features_in_") and _has_2d_shape(X):
            _check_n_features(self, X, reset=False)
        n_rows, read = self._reader(X)
        out = _Output(n_rows, self.dtype, self.max_memory_bytes, self.memmap_dir)
        chunk = self._chunk_size()
        starts = range(0, n_rows, chunk)
        bar = progress(len(starts), self._desc, self.verbose)
        try:
            with self._context() as context:
                for start in starts:
                    stop = min(start + chunk, n_rows)
                    batch = read(start, stop)
                    self._check_batch(batch)
                    Z = self._to_rows(self._encode(batch, context), stop - start)
                    if out.array is None:
                        out.allocate(Z.shape[1])
                    elif Z.shape[1] != out.array.shape[1]:
                        raise ValueError(
                            f"the model returned {Z.shape[1]} features for rows {start}-"
                            f"{stop - 1} but {out.array.shape[1]} for the first batch; an "
                            f"encoder must give every row the same number of features."
                        )
                    out.array[start:stop] = Z
                    bar.update()
            return out.finish()
        except BaseException:
            out.abort()
            raise
        finally:
            bar.close()

    # -- helpers ---------------------------------------------------------------------------
    def _chunk_size(self):
        return self.batch_size

    def _check_batch(self, batch):
        """Raise for invalid values in one batch as ``_reader`` returns it."""

    @contextmanager
    def _context(self):
        yield None

    def _to_rows(self, Z, n_batch):
        """The model's output for one batch as an ``(n_batch, width)`` array in ``dtype``."""
        if type(Z).__module__.startswith("torch"):
            import torch

            if not isinstance(Z, torch.Tensor):
                raise TypeError(self._output_error(Z))
            if not (Z.is_floating_point() or Z.is_complex()):
                Z = Z.float()
            Z = Z.detach().to(dtype=getattr(torch, np.dtype(self.dtype).name)).cpu().numpy()
        elif isinstance(Z, (tuple, list, dict)) or not hasattr(Z, "__array__"):
            raise TypeError(self._output_error(Z))
        Z = np.asarray(Z)
        if Z.ndim == 0 or Z.shape[0] != n_batch:
            got = "a scalar" if Z.ndim == 0 else f"{Z.shape[0]} rows (shape {Z.shape})"
            raise ValueError(
                f"the model returned {got} for a batch of {n_batch} rows; it must return "
                f"one output row per input row, batched along the first axis."
            )
        if Z.dtype.kind not in "fiub":
            raise TypeError(f"the model returned values of dtype {Z.dtype}; expected numbers.")
        return Z.reshape(n_batch, -1).astype(self.dtype, copy=False)

    def _output_error(self, Z):
        return (
            f"the model returned a {type(Z).__name__}; it must return one tensor or array "
            f"with a row per input row. Wrap a model that returns a tuple or dict (e.g. "
            f"lambda x: model(x).last_hidden_state[:, 0]) or a module that selects the output."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # stateless: transform works without fit
        tags.transformer_tags.preserves_dtype = []  # the output dtype is the `dtype` parameter
        tags.non_deterministic = False
        return tags


def _has_2d_shape(X):
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) == 2


class TorchEncoder(_BatchEncoder):
    """A ``torch.nn.Module`` (or any callable on a batch) as a scikit-learn transformer.

    ``transform`` feeds the rows to ``module`` in batches of ``batch_size`` under
    ``torch.inference_mode()`` with the module in ``eval()`` mode (dropout off, batch norm
    on its running statistics; each submodule's mode is put back afterwards), and returns
    one row per input row: a 2-D float array, trailing output dimensions flattened
    (``(n, C, H, W)`` feature maps become ``(n, C*H*W)``). Same input, same output: no
    random draw is made. ``fit`` only checks the parameters and ``X`` (nothing is learned),
    and ``transform`` also works without it. Use it as
    ``ELFSSelector(feature_extractor=TorchEncoder(net))`` or in a Pipeline.

    Inputs, batched along the first axis:

    * a NumPy array (a memory map too) or anything ``numpy.asarray`` reads, of any number
      of dimensions >= 2 (rows of features, images ``(n, C, H, W)``, sequences): each batch
      is read, converted to a float tensor in the dtype of the module's parameters
      (float32 when it has none) and moved to ``device``. Integer arrays (``uint8``
      images, token ids) arrive as floats: a module that needs integer ids calls
      ``.long()`` itself, and scaling pixels is the module's job. NaN or infinite values
      raise a ValueError;
    * a torch tensor: batches are slices of it, moved to ``device`` with their dtype kept;
    * a list or tuple of non-numeric items (texts, file names, PIL images, dicts), or a
      1-D array / pandas Series of strings: ``module`` receives each batch as a Python list
      and handles it (tokenising, loading, moving to its device).

    ``module`` must return a tensor (or an array) whose first axis has one entry per input
    row; a tuple or dict output raises a TypeError (wrap the model to pick one output).

    Parameters
    ----------
    module : torch.nn.Module or callable
        The encoder. An ``nn.Module`` is moved to ``device`` (in place, as ``module.to``
        does) and put in ``eval()`` mode while it encodes; a plain callable is called as it
        is. It is not copied here; ``sklearn.base.clone`` (and so
        ``ELFSSelector(feature_extractor=...)``) deep-copies it.
    batch_size : int, default=256
        Rows per forward pass. The output does not depend on it (up to floating-point
        rounding inside the module).
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Array and tensor
        batches are moved there; list batches are passed as they are.
    dtype : str or numpy dtype, default="float32"
        Output dtype: "float32", "float16" (half the memory; selectors read it in float32
        blocks) or "float64".
    max_memory_bytes : int or None, default=2**30
        An output larger than this many bytes is written to a memory-mapped ``.npy`` file
        in ``memmap_dir`` instead of memory, and ``transform`` returns a read-only
        ``numpy.memmap`` of it (``Z.filename`` is its path; ``np.load(path,
        mmap_mode="r")`` reopens it). The file is complete once ``transform`` returns (it
        is written under a ``.partial`` name and renamed), and removed if ``transform``
        fails or is interrupted. It is the caller's to delete (``os.remove(Z.filename)``),
        except when a selector encodes its own pool (``feature_extractor=``): the selector
        removes the file at the end of ``fit``. None: always in memory.
    memmap_dir : str, path-like or None, default=None
        Directory of the memory-mapped outputs; None is the system's temporary directory
        (``tempfile.gettempdir()``, i.e. ``$TMPDIR`` or ``/tmp``). The files are named
        ``skelfs-encoded-*.npy``.
    verbose : int, default=0
        Show a progress bar over the batches on stderr (tqdm if installed).

    Attributes
    ----------
    n_features_in_ : int
        Number of features (the size of the second axis) of a 2-D ``X`` seen in ``fit``;
        not set for other inputs.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names of a DataFrame seen in ``fit``; not set otherwise.

    See Also
    --------
    SentenceTransformerEncoder : Texts through a loaded sentence-transformers model.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skelfs import TorchEncoder
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    >>> images = np.random.RandomState(0).rand(10, 1, 4, 4)  # 10 one-channel 4x4 images
    >>> Z = TorchEncoder(net, batch_size=4, device="cpu").fit_transform(images)
    >>> Z.shape, Z.dtype
    ((10, 3), dtype('float32'))
    >>> row = net(torch.as_tensor(images[:1], dtype=torch.float32)).detach().numpy()
    >>> bool(np.allclose(Z[:1], row, atol=1e-6))
    True

    In front of a selector, which then takes the raw images:

    >>> from skelfs import KCenterGreedySelector
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(TorchEncoder(net, device="cpu"), KCenterGreedySelector(budget=3))
    >>> pipe.fit(images)[-1].get_support(indices=True).shape
    (3,)
    """

    _desc = "TorchEncoder"
    _parameter_constraints: ClassVar[dict] = {
        **_BatchEncoder._parameter_constraints,
        "module": NO_VALIDATION,  # any callable; checked in fit and transform
        "device": Check(check_device),
    }

    def __init__(
        self,
        module,
        *,
        batch_size=256,
        device="auto",
        dtype="float32",
        max_memory_bytes=MAX_MEMORY_BYTES,
        memmap_dir=None,
        verbose=0,
    ):
        self.module = module
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.max_memory_bytes = max_memory_bytes
        self.memmap_dir = memmap_dir
        self.verbose = verbose

    def _check_model(self):
        if not callable(self.module):
            raise TypeError(
                f"module must be a torch.nn.Module or a callable that maps a batch of rows to "
                f"a tensor, got {type(self.module).__name__} ({self.module!r})."
            )

    def _reader(self, X):
        if type(X).__module__.startswith("torch"):
            import torch

            if isinstance(X, torch.Tensor):
                if X.ndim < 1 or X.shape[0] < 1:
                    raise ValueError(
                        f"X is a tensor of shape {tuple(X.shape)}; it needs at least one row."
                    )
                return X.shape[0], lambda start, stop: ("tensor", X[start:stop])
        if _is_items(X):
            items = X if isinstance(X, (list, tuple)) else np.asarray(X)
            return len(items), lambda start, stop: ("items", list(items[start:stop]))
        reject_sparse(X)
        X = check_array(
            X,
            dtype="numeric",
            allow_nd=True,
            ensure_all_finite=False,  # checked batch by batch (one pass over the data)
            copy=False,
            input_name="X",
        )
        return X.shape[0], lambda start, stop: ("array", np.asarray(X[start:stop]))

    @contextmanager
    def _context(self):
        import torch

        module = self.module
        device = resolve_device(self.device)
        dtype = torch.float32
        if isinstance(module, torch.nn.Module):
            module.to(device)
            floating = [p.dtype for p in module.parameters() if p.is_floating_point()] or [
                b.dtype for b in module.buffers() if b.is_floating_point()
            ]
            dtype = floating[0] if floating else torch.float32
            modes = [(m, m.training) for m in module.modules()]
            module.eval()
        else:
            modes = []
        try:
            with torch.inference_mode():
                yield device, dtype
        finally:
            for m, training in modes:
                m.training = training

    def _check_batch(self, batch):
        kind, rows = batch
        if kind == "array" and rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError(
                "X contains NaN or infinity; an encoder needs finite values. Impute or "
                "drop those rows first (e.g. sklearn.impute.SimpleImputer)."
            )

    def _encode(self, batch, context):
        import torch

        kind, rows = batch
        device, dtype = context
        # Always a copy of the batch: a module may work in place (ReLU(inplace=True)),
        # and must not write into X (a read-only memory map could not even back a tensor).
        if kind == "array":
            np_dtype = {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
            rows = torch.from_numpy(np.array(rows, dtype=np_dtype, order="C"))
            rows = rows.to(device=device, dtype=dtype)
        elif kind == "tensor":
            rows = rows.to(device=device, copy=True)
        return self.module(rows)


class SentenceTransformerEncoder(_BatchEncoder):
    """A loaded sentence-transformers model as a scikit-learn transformer on texts.

    ``transform(texts)`` calls ``model.encode`` on chunks of ``16 * batch_size`` texts
    (each split by the model into batches of ``batch_size``) and returns one embedding per
    text in a 2-D float array (memory-mapped above ``max_memory_bytes``, as in
    :class:`TorchEncoder`). ``fit`` only checks the parameters and the input. The model is
    used as it is, on its own device: nothing is downloaded or moved here. Install the
    optional extra with ``pip install "skelfs[text]"`` (sentence-transformers), or pass any
    object with a compatible ``encode`` method, called as
    ``model.encode(texts, batch_size=b, normalize_embeddings=n, **options)`` with the
    options ``convert_to_numpy=True, show_progress_bar=False``, that returns one row per
    text.

    Inputs: a list or tuple of strings, or a 1-D array / pandas Series of strings.

    Parameters
    ----------
    model : sentence_transformers.SentenceTransformer or object with ``encode``
        A loaded model, e.g. ``SentenceTransformer("all-MiniLM-L6-v2")`` (the caller loads
        or downloads it; skelfs never does). Not copied here; ``sklearn.base.clone``
        deep-copies it.
    batch_size : int, default=32
        The model's batch size.
    normalize_embeddings : bool, default=False
        Ask the model for L2-normalised embeddings (cosine geometry; the embeddings in
        ``shared/data`` were made this way).
    dtype : str or numpy dtype, default="float32"
        Output dtype: "float32", "float16" or "float64".
    max_memory_bytes : int or None, default=2**30
        As in :class:`TorchEncoder`: a larger output goes to a memory-mapped ``.npy`` file
        in ``memmap_dir`` (the caller's to delete, unless a selector encoded its own pool).
        None: always in memory.
    memmap_dir : str, path-like or None, default=None
        Directory of the memory-mapped outputs (None: ``tempfile.gettempdir()``).
    verbose : int, default=0
        Show a progress bar over the chunks on stderr.

    See Also
    --------
    TorchEncoder : Any torch module or callable on a batch.

    Examples
    --------
    Any object with a sentence-transformers-like ``encode`` works; here a toy one that
    embeds a text as (length, number of words):

    >>> import numpy as np
    >>> from skelfs import SentenceTransformerEncoder
    >>> class Toy:
    ...     def encode(self, sentences, batch_size=32, normalize_embeddings=False, **kwargs):
    ...         return np.array([[len(s), len(s.split())] for s in sentences], dtype=float)
    >>> SentenceTransformerEncoder(Toy()).fit_transform(["a cat", "the dog sat", "hi"])
    array([[ 5.,  2.],
           [11.,  3.],
           [ 2.,  1.]], dtype=float32)
    """

    _desc = "SentenceTransformerEncoder"
    _parameter_constraints: ClassVar[dict] = {
        **_BatchEncoder._parameter_constraints,
        "model": NO_VALIDATION,  # duck-typed: checked for an encode method in fit
        "normalize_embeddings": Bool(),
    }

    #: Texts per call of ``model.encode``, in units of ``batch_size``.
    CHUNK_BATCHES = 16

    def __init__(
        self,
        model,
        *,
        batch_size=32,
        normalize_embeddings=False,
        dtype="float32",
        max_memory_bytes=MAX_MEMORY_BYTES,
        memmap_dir=None,
        verbose=0,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self.dtype = dtype
        self.max_memory_bytes = max_memory_bytes
        self.memmap_dir = memmap_dir
        self.verbose = verbose

    def _check_model(self):
        if not callable(getattr(self.model, "encode", None)):
            raise TypeError(
                f"model must be a loaded sentence-transformers model (or any object with an "
                f"encode(sentences, batch_size=...) method), got {type(self.model).__name__}."
            )

    def _reader(self, X):
        if isinstance(X, str) or not (isinstance(X, (list, tuple)) or _is_items(X)):
            raise TypeError(
                f"X must be a list of strings (or a 1-D array / Series of strings), got "
                f"{type(X).__name__}{getattr(X, 'shape', '')}. Pass texts, one per row."
            )
        texts = X if isinstance(X, (list, tuple)) else np.asarray(X)
        if _num_samples(texts) < 1:
            raise ValueError("X holds no texts; pass at least one.")
        return len(texts), lambda start, stop: (start, list(texts[start:stop]))

    def _chunk_size(self):
        # the model batches inside each chunk (sorting texts by length); the loop, the
        # progress bar and the memory map see chunks
        return self.batch_size * self.CHUNK_BATCHES

    def _check_batch(self, batch):
        start, texts = batch
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"X[{start + i}] is a {type(text).__name__}, not a string; "
                    f"SentenceTransformerEncoder encodes texts."
                )

    def _encode(self, batch, context):
        _, texts = batch
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize_embeddings,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
