"""`gk.utils.PyDataset`: a dataset of batches that Python code produces on demand.

Subclass it, call `super().__init__(**kwargs)`, and define `__len__` (the number of batches)
and `__getitem__(index)` returning `x`, `(x, y)` or `(x, y, sample_weight)` for one batch.
`fit` calls `on_epoch_begin` and `on_epoch_end` around every epoch.

`workers > 1` loads up to `max_queue_size` batches ahead on a pool of threads (NumPy
releases the GIL in most of its work). graphkit has no process workers:
`use_multiprocessing=True` is accepted and warned about, and threads are used.
"""
import warnings


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"PyDataset: `workers` must be an integer >= 1, received "
                             f"{workers!r}")
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError("PyDataset: `max_queue_size` must be an integer >= 1, received "
                             f"{max_queue_size!r}")
        if use_multiprocessing:
            warnings.warn("PyDataset: graphkit loads batches with threads, not processes; "
                          "use_multiprocessing=True runs the workers as threads",
                          stacklevel=2)
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    # Subclasses that forget super().__init__() still get the defaults.
    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index), "
                                  "returning one batch")

    @property
    def num_batches(self):
        """The number of batches (`len(self)`), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass
