"""Feeding data to `fit`, `evaluate` and `predict`.

Accepted inputs (as in Keras 3):
- arrays: a NumPy array (or anything array-like), or a list, tuple or dict of them, for `x`
  and `y`; batched here, shuffled per epoch when asked;
- a `gk.utils.PyDataset` of batches;
- any other iterable or generator of batches.
Every batch is `(x, y, sample_weight)`, any of them possibly None. Float arrays are
converted to `gk.config.floatx()`, as Keras does, so that float64 NumPy data trains a
float32 model.

An `EpochIterator` walks an adapter one epoch at a time, honouring `steps_per_epoch`: with
it, one iterator is kept across epochs (and restarted when a finite source is used up),
so that a generator is read on where the last epoch stopped.
"""
import concurrent.futures
import math
import warnings

import numpy as np

from graphkit import config, tree
from graphkit.core.tensor import _dtype_name
from graphkit.utils.py_dataset import PyDataset

DEFAULT_BATCH_SIZE = 32


# -- (x, y, sample_weight) --------------------------------------------------------------------

def unpack_x_y_sample_weight(data):
    """`data` as `(x, y, sample_weight)`; a tuple of 1 to 3 items, or a bare `x`."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`;"
                     f" received a tuple of {len(data)} items")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def standardize_array(x, name="x"):
    """NumPy form of one leaf; floats become floatx."""
    if x is None:
        return None
    if type(x) is np.ndarray and (x.dtype.kind in "biu" or (
            x.dtype.kind == "f" and _dtype_name(x.dtype) == config.floatx())):
        return x  # the common case of every step, decided without the checks below
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    array = np.asarray(x)
    if array.dtype == object:
        raise TypeError(f"{name}: expected numeric arrays, received an array of Python "
                        f"objects (shape {array.shape})")
    if array.dtype.kind == "f" and array.dtype != np.dtype(config.floatx()):
        array = array.astype(config.floatx())
    return array


def standardize_batch(data, wrap=None):
    """A batch from any source as NumPy leaves, `(x, y, sample_weight)`; with `wrap`, each
    standardized leaf that is not None is passed through it (in the same walk)."""
    def leaves(part, name):
        if wrap is None:
            return tree.map_structure(lambda a: standardize_array(a, name), part)
        return tree.map_structure(
            lambda a: None if a is None else wrap(standardize_array(a, name)), part)
    x, y, sw = unpack_x_y_sample_weight(data)
    return leaves(x, "x"), leaves(y, "y"), leaves(sw, "sample_weight")


def _is_array_like(x):
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__array__"))


def _is_array_structure(x):
    leaves = tree.flatten(x)
    return bool(leaves) and all(_is_array_like(a) or a is None for a in leaves) and \
        any(a is not None for a in leaves)


def _num_samples(structures):
    """The common first dimension of every array, with a clear error when they differ."""
    sizes = {}
    for label, s in structures:
        for path, leaf in tree.flatten_with_path(s):
            if leaf is None:
                continue
            if np.ndim(leaf) == 0:
                raise ValueError(f"{label}: every array needs a batch dimension, received a "
                                 f"scalar at {_path_text(label, path)}")
            sizes.setdefault(int(np.shape(leaf)[0]), []).append(_path_text(label, path))
    if len(sizes) > 1:
        detail = "; ".join(f"{', '.join(names)}: {n}" for n, names in sorted(sizes.items()))
        raise ValueError(f"Data cardinality is ambiguous: all arrays must have the same "
                         f"number of samples. Received sizes {detail}")
    if not sizes:
        raise ValueError("No data: `x` holds no arrays")
    return next(iter(sizes))


def _path_text(label, path):
    return label + "".join(f"[{p!r}]" for p in path)


# -- class weights ----------------------------------------------------------------------------

def class_weight_to_sample_weight(y, class_weight):
    """Per-sample weights `class_weight[label]`, labels from integer or one-hot `y`; as in
    Keras, a class the dict leaves out gets weight 1 (`{1: 10.0}` up-weights class 1)."""
    if not isinstance(class_weight, dict):
        raise ValueError("`class_weight` must be a dict mapping class indices to weights, "
                         f"received {type(class_weight).__name__}: {class_weight!r}")
    if isinstance(y, (dict, list, tuple)):
        raise ValueError("`class_weight` is only supported for models with a single output "
                         "(received several `y` arrays)")
    if y is None:
        raise ValueError("`class_weight` needs targets `y` to look the weights up")
    y = np.asarray(y)
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.ones(len(labels), dtype=config.floatx())
    for k, w in class_weight.items():
        weights[labels == int(k)] = w
    return weights


def _with_class_weight(batch, class_weight):
    x, y, sw = batch
    if not class_weight:
        return batch
    if sw is not None:
        raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time")
    return x, y, class_weight_to_sample_weight(y, class_weight)


# -- validation split -------------------------------------------------------------------------

def train_validation_split(arrays, validation_split):
    """Split `(x, y, sample_weight)` arrays: the last `validation_split` fraction (taken
    before any shuffling) becomes the validation data."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"`validation_split` must be between 0 and 1, received "
                         f"{validation_split!r}")
    if not all(_is_array_structure(a) for a in arrays if a is not None):
        raise ValueError("`validation_split` is only supported for arrays (NumPy arrays or "
                         "lists/dicts of them), not for generators or PyDatasets; pass "
                         "`validation_data` instead")
    x, y, sw = arrays
    n = _num_samples([("x", x), ("y", y), ("sample_weight", sw)])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} with {n} samples leaves "
                         f"{split_at} for training and {n - split_at} for validation; "
                         "both need at least one")

    def part(s, sl):
        return tree.map_structure(lambda a: None if a is None else np.asarray(a)[sl], s)
    train = tuple(part(a, slice(0, split_at)) for a in arrays)
    val = tuple(part(a, slice(split_at, None)) for a in arrays)
    return train, val


# -- adapters ---------------------------------------------------------------------------------

class ArrayDataAdapter:
    """Batches of in-memory arrays, in order or shuffled per epoch (NumPy's global
    generator, which `gk.utils.set_random_seed` seeds)."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False,
                 class_weight=None, steps=None):
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"`shuffle` must be True, False or 'batch', received {shuffle!r}")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"`batch_size` must be a positive integer, received "
                             f"{batch_size!r}")
        self.x = tree.map_structure(lambda a: standardize_array(a, "x"), x)
        self.y = tree.map_structure(lambda a: standardize_array(a, "y"), y)
        self.sample_weight = tree.map_structure(
            lambda a: standardize_array(a, "sample_weight"), sample_weight)
        self.num_samples = _num_samples([("x", self.x), ("y", self.y),
                                         ("sample_weight", self.sample_weight)])
        if class_weight:
            if self.sample_weight is not None:
                raise ValueError("You cannot use `class_weight` and `sample_weight` at the "
                                 "same time")
            self.sample_weight = class_weight_to_sample_weight(self.y, class_weight)
        if batch_size is None:
            # As in Keras: given `steps` and no batch size, the steps cover the data once.
            batch_size = max(1, math.ceil(self.num_samples / steps)) if steps \
                else DEFAULT_BATCH_SIZE
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    @property
    def num_batches(self):
        return int(math.ceil(self.num_samples / self.batch_size))

    def _epoch_order(self):
        n, b = self.num_samples, self.batch_size
        if self.shuffle is True:
            return np.random.permutation(n)
        order = np.arange(n)
        if self.shuffle == "batch":  # shuffle within each batch, then the batches' order
            chunks = [np.random.permutation(order[i:i + b]) for i in range(0, n, b)]
            order = np.concatenate([chunks[i] for i in np.random.permutation(len(chunks))])
        return order

    def __iter__(self):
        order = self._epoch_order()
        sorted_slices = self.shuffle is False
        for start in range(0, self.num_samples, self.batch_size):
            index = slice(start, start + self.batch_size) if sorted_slices \
                else order[start:start + self.batch_size]

            def take(s):
                return tree.map_structure(lambda a: None if a is None else a[index], s)
            yield take(self.x), take(self.y), take(self.sample_weight)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class PyDatasetAdapter:
    """Batches from a `gk.utils.PyDataset`, in index order or with the batch order
    shuffled, loaded ahead by worker threads when it asks for them."""

    def __init__(self, dataset, shuffle=False, class_weight=None):
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.class_weight = class_weight

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def _indices(self):
        n = self.num_batches
        if n is None:
            return _count_forever()
        order = np.random.permutation(n) if self.shuffle else np.arange(n)
        return iter(int(i) for i in order)

    def _batch(self, index):
        return _with_class_weight(standardize_batch(self.dataset[index]), self.class_weight)

    def __iter__(self):
        if self.dataset.workers <= 1:
            for i in self._indices():
                yield self._batch(i)
            return
        yield from self._prefetched(self._indices())

    def _prefetched(self, indices):
        with concurrent.futures.ThreadPoolExecutor(self.dataset.workers) as pool:
            pending = []
            for i in indices:
                pending.append(pool.submit(self._batch, i))
                if len(pending) >= self.dataset.max_queue_size:
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def _count_forever():
    i = 0
    while True:
        yield i
        i += 1


class IterableDataAdapter:
    """Batches from any iterable (a list of batches, a generator, a custom iterable).

    A generator can be read once; an iterable that is not its own iterator is read afresh
    every epoch.
    """

    def __init__(self, iterable, class_weight=None):
        self.iterable = iterable
        self.class_weight = class_weight
        self.reiterable = iter(iterable) is not iterable
        self._num_batches = len(iterable) if hasattr(iterable, "__len__") else None

    @property
    def num_batches(self):
        return self._num_batches

    def __iter__(self):
        for data in self.iterable:
            yield _with_class_weight(standardize_batch(data), self.class_weight)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


def get_data_adapter(x, y=None, sample_weight=None, batch_size=None, shuffle=False,
                     class_weight=None, steps=None):
    """The adapter for `x` (and `y`, `sample_weight` when `x` holds arrays)."""
    if isinstance(x, PyDataset) or (not _is_array_structure(x) and hasattr(x, "__iter__")
                                    and not isinstance(x, (dict, list, tuple, str))):
        kind = "a PyDataset" if isinstance(x, PyDataset) else "a generator or iterable"
        for arg, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"When `x` is {kind}, `{arg}` must not be passed: put it in "
                                 "the batches instead, as (x, y) or (x, y, sample_weight)")
        if isinstance(x, PyDataset):
            return PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight)
        return IterableDataAdapter(x, class_weight=class_weight)
    if x is None:
        raise ValueError("No input data: `x` is None")
    x = tree.map_structure(lambda a: a if _is_array_like(a) or a is None else np.asarray(a), x)
    return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                            class_weight=class_weight, steps=steps)


class EpochIterator:
    """Runs over an adapter epoch by epoch; `steps_per_epoch` caps (or sets) the length.

    With `repeat` (fit), a finite source is read again when the steps ask for more batches
    than it holds; without (evaluate, predict), as in Keras, the data is read once and the
    steps stop at its end, so no sample is counted or predicted twice.
    `steps_name` is the caller's name for `steps_per_epoch`, for errors."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None, repeat=True, steps_name="steps_per_epoch"):
        if steps_per_epoch is not None:
            if not isinstance(steps_per_epoch, (int, np.integer)) or \
                    isinstance(steps_per_epoch, bool) or steps_per_epoch < 1:
                raise ValueError(f"`{steps_name}` must be a positive integer or None, "
                                 f"received {steps_per_epoch!r}")
            steps_per_epoch = int(steps_per_epoch)  # NumPy integers too, as Keras takes them
        self.adapter = get_data_adapter(x, y, sample_weight, batch_size=batch_size,
                                        shuffle=shuffle, class_weight=class_weight,
                                        steps=steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch
        self.repeat = repeat
        self._iterator = None
        self.ran_out_of_data = False
        if steps_per_epoch is None and self.adapter.num_batches is None and isinstance(
                self.adapter, PyDatasetAdapter):
            raise ValueError(f"This PyDataset has no __len__ (it is endless): pass "
                             f"`{steps_name}`")

    @property
    def num_batches(self):
        """Steps per epoch, or None when only the end of the data will tell."""
        return self.steps_per_epoch or self.adapter.num_batches

    def _fresh_iterator(self):
        return iter(self.adapter)

    def enumerate_epoch(self):
        """Yields `(step, (x, y, sample_weight))` for one epoch."""
        self.adapter.on_epoch_begin()
        if self.steps_per_epoch is None:
            step = -1
            for step, batch in enumerate(self._fresh_iterator()):
                yield step, batch
            if step < 0:
                self._ran_out()
        else:
            yield from self._enumerate_fixed_steps()
        self.adapter.on_epoch_end()

    def _enumerate_fixed_steps(self):
        restarted = False
        step = 0
        if self._iterator is None:
            self._iterator = self._fresh_iterator()
        while step < self.steps_per_epoch:
            try:
                batch = next(self._iterator)
            except StopIteration:
                can_restart = self.repeat and (
                    not isinstance(self.adapter, IterableDataAdapter) or
                    self.adapter.reiterable)
                if restarted or not can_restart:
                    self._ran_out()
                    return
                self._iterator = self._fresh_iterator()
                restarted = True
                continue
            restarted = False
            yield step, batch
            step += 1

    def _ran_out(self):
        self.ran_out_of_data = True
        warnings.warn("Your input ran out of data; interrupting training. Make sure that "
                      "your dataset or generator can generate at least "
                      "`steps_per_epoch * epochs` batches.", stacklevel=4)
