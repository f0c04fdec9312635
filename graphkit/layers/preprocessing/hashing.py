"""`Hashing`: values -> hash bins, bit-exact with Keras 3's (TensorFlow's kernels).

Strings are hashed as their UTF-8 bytes with FarmHash Fingerprint64 (SipHash-2-4 keyed
by `salt` when one is given); numbers are hashed as their decimal string, floats first
truncated to int64, as Keras's `tf.as_string` conversion does. The hashing is Python code
on NumPy data, so, like the lookup layers, the layer runs eagerly only: inside a trace
`call` raises a `TracerError`.
"""
import numpy as np

from graphkit import config as gk_config
from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.ir.tracer import Tracer, TracerError, current_trace
from graphkit.layers.layer import Layer
from graphkit.layers.preprocessing.category_encoding import encode_categories
from graphkit.layers.preprocessing.farmhash import fingerprint64
from graphkit.layers.preprocessing.siphash import siphash64

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def normalize_salt(salt, who):
    """Keras's salt forms: one int (used twice) or two ints -> [k0, k1], or None."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return [int(s) for s in salt]
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]
    raise ValueError(f"{who}: `salt` must be a tuple of 2 integers or a single integer. "
                     f"Received: salt={salt}")


def token_bytes(value):
    """The bytes TensorFlow hashes for one value: a string's UTF-8, else its decimal
    form (`tf.as_string`; bools as 'true'/'false')."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bool, np.bool_)):
        return b"true" if value else b"false"
    return str(int(value)).encode("ascii")


def hash_buckets(values, num_buckets, salt=None):
    """Each value's bucket in [0, num_buckets): `to_hash_bucket_fast`, or
    `to_hash_bucket_strong` keyed by `salt` ([k0, k1])."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        array = array.astype(np.int64)  # Keras truncates floats before hashing
    if salt is None:
        digest = lambda v: fingerprint64(token_bytes(v))  # noqa: E731
    else:
        digest = lambda v: siphash64(salt, token_bytes(v))  # noqa: E731
    flat = [digest(v) % num_buckets for v in array.reshape(-1).tolist()]
    return np.array(flat, np.int64).reshape(array.shape)


def as_token_array(inputs):
    """Strings stay Python strings/bytes (object array); numbers stay numeric."""
    array = np.asarray(inputs)
    return array.astype(object) if array.dtype.kind in "SU" else array


class Hashing(Layer):
    """Hashes each value into one of `num_bins` bins. With `mask_value` set (and
    num_bins > 1) bin 0 is reserved for it and the others hash into [1, num_bins).
    `output_mode` 'one_hot', 'multi_hot' or 'count' encodes the bins as CategoryEncoding
    does (multi_hot and count reduce the last axis)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int",
                 sparse=False, **kwargs):
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else gk_config.floatx()
        super().__init__(**kwargs)
        self._validate(num_bins, output_mode, sparse)
        self.num_bins, self.mask_value = num_bins, mask_value
        self.salt = normalize_salt(salt, self._who)
        self.output_mode, self.sparse = output_mode, False
        self._convert_input_args = False  # strings and lists reach call() as they are
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights

    @property
    def _who(self):
        return f"Hashing '{self.name}'"

    def _validate(self, num_bins, output_mode, sparse):
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or \
                num_bins <= 0:
            raise ValueError(f"{self._who}: `num_bins` must be a positive int. Received: "
                             f"num_bins={num_bins!r}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{self._who}: `output_mode` must be one of {OUTPUT_MODES}. "
                             f"Received: output_mode={output_mode!r}")
        if output_mode == "int" and self.compute_dtype not in ("int32", "int64"):
            raise ValueError(f"{self._who}: when output_mode='int', `dtype` must be 'int32' "
                             f"or 'int64'. Received: dtype={self.compute_dtype}")
        if sparse:
            raise ValueError(f"{self._who}: sparse=True is not supported (graphkit has no "
                             f"sparse tensors); expected sparse=False. Received: "
                             f"sparse={sparse!r}")

    def call(self, inputs):
        if isinstance(inputs, Tracer) or current_trace() is not None:
            raise TracerError(
                f"{self._who}: hashing layers run eagerly (their hashes are Python code on NumPy "
                f"data) and cannot be compiled. Apply the layer to the data before the "
                f"model (in the input pipeline), or use run_eagerly=True / "
                f"jit_compile='auto'")
        bins = self._bins(as_token_array(inputs))
        return encode_categories(ops.convert_to_tensor(bins), self.output_mode,
                                 self.num_bins, self.compute_dtype)

    def _bins(self, array):
        if self.mask_value is None or self.num_bins == 1:
            return hash_buckets(array, self.num_bins, self.salt)
        # The mask takes bin 0; compared before any float truncation, as Keras does.
        is_mask = np.asarray(array == self.mask_value, bool)
        bins = hash_buckets(array, self.num_bins - 1, self.salt) + 1
        return np.where(is_mask, 0, bins)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        if not input_shape:
            return (self.num_bins,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return input_shape + (self.num_bins,)
        return input_shape[:-1] + (self.num_bins,)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}
