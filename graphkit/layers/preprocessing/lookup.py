"""`IntegerLookup` and `StringLookup`: tokens -> vocabulary indices (or back, with
`invert=True`), with Keras 3's vocabulary, OOV, mask and output-mode rules.

The table is a Python dict and the layers run eagerly on NumPy data (graphkit tensors
are numeric only, and Keras runs these layers in the input pipeline too). Inside a trace
(`gk.jit`, a compiled model step) `call` raises a `TracerError` saying so: under
jit_compile="auto" the step then runs eagerly; under jit_compile=True the error reaches
the caller.

The vocabulary travels with the model file: a vocabulary given to the constructor is in
the config (as Keras's), an adapted one is saved by `save_own_variables` as numeric
arrays (strings as their UTF-8 bytes plus lengths), since graphkit's archive stores only
numeric arrays where Keras writes a `vocabulary.txt` asset.
"""
import collections

import numpy as np

from graphkit import config as gk_config
from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.ir.tracer import Tracer, TracerError, current_trace
from graphkit.layers.layer import Layer
from graphkit.layers.preprocessing.hashing import hash_buckets

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _listify(x):
    if x is None or isinstance(x, str):
        return x
    return np.asarray(x).tolist()


# -- the dense encodings of looked-up indices (Keras's encode_categorical_inputs) ----------

def _one_hot(indices, depth):
    """Indices outside [0, depth) (the dropped mask token) give all-zero rows."""
    if indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    return (indices[..., None] == np.arange(depth)).astype(np.float64)


def _encode(indices, output_mode, depth, idf_weights):
    """'multi_hot', 'count' and 'tf_idf' reduce the last axis (one sample's tokens)."""
    if indices.ndim == 0:
        indices = indices[None]
    if output_mode == "one_hot":
        return _one_hot(indices, depth)
    counts = _one_hot(indices[..., None], depth).sum(axis=-2)
    if output_mode == "multi_hot":
        return np.minimum(counts, 1.0)
    if output_mode == "tf_idf":
        return counts * idf_weights
    return counts


class IndexLookup(Layer):
    """What IntegerLookup and StringLookup share (Keras's IndexLookup, not exported)."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 sparse=False, pad_to_max_tokens=False, oov_method="floormod", salt=None,
                 name=None, **kwargs):
        frozen_size = kwargs.pop("vocabulary_size", None)
        for key in ("trainable", "dtype", "has_input_vocabulary"):
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"{type(self).__name__}: unrecognized keyword argument(s): "
                             f"{kwargs}")
        super().__init__(name=name)
        self._convert_input_args = False  # strings and lists reach call() as they are
        self._allow_non_tensor_positional_args = True
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode,
                                                                        output_mode)
        self._validate(max_tokens, num_oov_indices, output_mode, invert, sparse,
                       pad_to_max_tokens, idf_weights, oov_method, salt)
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.vocabulary_dtype, self.invert = vocabulary_dtype, invert
        self.output_mode, self.sparse = output_mode, False
        self.pad_to_max_tokens, self.oov_method = pad_to_max_tokens, oov_method
        self.salt = [salt, salt] if isinstance(salt, int) else salt
        self._frozen_vocab_size = frozen_size
        self.input_vocabulary = None if isinstance(vocabulary, str) else vocabulary
        self.input_idf_weights = idf_weights
        self._tokens, self._index, self.idf_weights = [], {}, None
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError(f"{self._who}: when specifying the `vocabulary` argument in "
                             "TF-IDF output mode, the `idf_weights` argument must also be "
                             "provided")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True  # no weights: the table is Python state

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    def _validate(self, max_tokens, num_oov_indices, output_mode, invert, sparse,
                  pad_to_max_tokens, idf_weights, oov_method, salt):
        who = self._who
        problems = [
            (max_tokens is not None and max_tokens <= 1,
             f"if set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}"),
            (pad_to_max_tokens and max_tokens is None,
             f"if pad_to_max_tokens is True, must set `max_tokens`. Received: "
             f"max_tokens={max_tokens}"),
            (num_oov_indices < 0, f"`num_oov_indices` must be greater than or equal to 0. "
                                  f"Received: num_oov_indices={num_oov_indices}"),
            (oov_method not in ("floormod", "farmhash"),
             f"`oov_method` must be 'floormod' or 'farmhash'. Received: "
             f"oov_method={oov_method!r}"),
            (output_mode not in OUTPUT_MODES,
             f"`output_mode` must be one of {OUTPUT_MODES}. Received: "
             f"output_mode={output_mode!r}"),
            (invert and output_mode != "int",
             f"`output_mode` must be 'int' when `invert` is true. Received: "
             f"output_mode={output_mode}"),
            (bool(sparse), "sparse=True is not supported (graphkit has no sparse tensors)"),
            (idf_weights is not None and output_mode != "tf_idf",
             f"`idf_weights` should only be set if `output_mode` is 'tf_idf'. Received: "
             f"output_mode={output_mode}"),
            (salt is not None and not isinstance(salt, int) and not (
                isinstance(salt, (list, tuple)) and len(salt) == 2),
             f"`salt` must be a tuple of 2 integers or a single integer. Received: "
             f"salt={salt}"),
        ]
        for failed, message in problems:
            if failed:
                raise ValueError(f"{who}: {message}")

    # -- indices -------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The vocabulary's size, mask and OOV indices included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        oov_start = self._oov_start_index()
        specials = [self.oov_token] * self._token_start_index()
        if oov_start:
            specials[0] = self.mask_token
        vocab = specials + list(self._tokens)
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    # -- setting the vocabulary ----------------------------------------------------------
    def _to_tokens(self, values):
        """A flat list of Python tokens of the vocabulary's type."""
        raise TypeError(f"{type(self).__name__} must define _to_tokens(): the lookup base "
                        "class leaves it to IntegerLookup and StringLookup")

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replaces the vocabulary (a list, array or a text file path, one token a line)."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{self._who}: `idf_weights` must be set if output_mode is "
                             "'tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{self._who}: `idf_weights` should only be set if output_mode "
                             f"is 'tf_idf'. Received: output_mode={self.output_mode}")
        if isinstance(vocabulary, str):
            vocabulary = self._read_vocabulary_file(vocabulary)
        vocabulary = self._to_tokens(vocabulary)
        if not vocabulary:
            raise ValueError(f"{self._who}: cannot set an empty vocabulary. Received: "
                             f"vocabulary={vocabulary}")
        token_start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        found_specials = vocabulary[:token_start] == specials
        tokens = vocabulary[token_start:] if found_specials else vocabulary
        self._check_tokens(tokens, specials)
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError(f"{self._who}: attempted to set a vocabulary larger than the "
                             f"maximum vocab size. Received vocabulary size is "
                             f"{token_start + len(tokens)}; `max_tokens` is {self.max_tokens}")
        self._set_tokens(tokens)
        if idf_weights is not None:
            self._set_idf(idf_weights, len(vocabulary), found_specials)

    def _check_tokens(self, tokens, specials):
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{self._who}: the passed vocabulary has at least one repeated "
                             f"term. Please uniquify your dataset. The repeated terms are: "
                             f"{repeated}")
        # The OOV token is only reserved when inverting (as Keras: unused otherwise).
        for arg, token, reserved in (("mask_token", self.mask_token, True),
                                     ("oov_token", self.oov_token, self.invert)):
            if token is not None and reserved and token in tokens:
                raise ValueError(
                    f"{self._who}: found reserved {arg} {token!r} at an unexpected location "
                    f"in `vocabulary`. Either remove all mask and OOV tokens, or include "
                    f"them only at the start of the vocabulary in precisely this order: "
                    f"{specials}")

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}
        self._record_vocabulary_size()

    def _record_vocabulary_size(self):
        fixed = self.output_mode == "int" or self.pad_to_max_tokens
        if not fixed and self._frozen_vocab_size is not None and \
                self.vocabulary_size() != self._frozen_vocab_size:
            raise RuntimeError(
                f"{self._who}: when using output_mode={self.output_mode} and "
                f"pad_to_max_tokens=False, the vocabulary size cannot be changed after the "
                f"layer is called. Old vocab size is {self._frozen_vocab_size}, new vocab "
                f"size is {self.vocabulary_size()}")
        self._frozen_vocab_size = self.vocabulary_size()

    def _set_idf(self, idf_weights, vocab_len, found_specials):
        idf_weights = np.asarray(idf_weights, np.float64)
        if idf_weights.ndim != 1 or len(idf_weights) != vocab_len:
            raise ValueError(f"{self._who}: `idf_weights` must be 1-D and the same length as "
                             f"the vocabulary. len(idf_weights) is {idf_weights.size}; "
                             f"len(vocabulary) is {vocab_len}")
        # Without given special tokens, their weight is the average one (as Keras).
        front = 0 if found_specials else self._token_start_index()
        self._set_padded_idf(idf_weights, front, np.average(idf_weights))

    def _set_padded_idf(self, idf_weights, front, front_value):
        back = 0
        if self.pad_to_max_tokens and self.max_tokens is not None:
            back = self.max_tokens - front - len(idf_weights)
        self.idf_weights = np.pad(idf_weights, (front, back), constant_values=(front_value, 0)) \
            .astype(gk_config.floatx())

    def _read_vocabulary_file(self, path):
        if self.output_mode == "tf_idf":
            raise ValueError(f"{self._who}: output_mode 'tf_idf' does not support loading a "
                             "vocabulary from file")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ValueError(f"{self._who}: vocabulary file {path} does not exist or cannot "
                             f"be read ({e})") from None
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    # -- adapt ---------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learns the vocabulary from an array or list (each element a document when 1-D)
        or an iterable of batches (a 1-D batch is one document): tokens sorted by count,
        ties by token, both descending, then cut to `max_tokens`."""
        if self.input_vocabulary is not None:
            raise ValueError(f"Cannot adapt layer '{self.name}' ({type(self).__name__}) "
                             "after setting a static vocabulary via `vocabulary` argument "
                             "or `set_vocabulary()` method.")
        counts, doc_counts, num_docs = collections.Counter(), collections.Counter(), 0
        for documents in self._adapt_batches(data, steps):
            for doc in documents:
                tokens = self._to_tokens(doc)
                counts.update(tokens)
                doc_counts.update(set(tokens))
                num_docs += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            self._record_vocabulary_size()
            return
        ordered = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            ordered = ordered[:self.max_tokens - self._token_start_index()]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            df = np.array([doc_counts[t] for t in ordered], np.float64)
            idf = np.log(1 + num_docs / (1 + df))
            self._set_padded_idf(idf, self._token_start_index(), idf.mean())

    def _adapt_batches(self, data, steps):
        """Each batch as a list of documents (arrays of rank >= 1)."""
        if isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "shape"):
            array = self._as_array(data)
            if array.ndim <= 1:  # a flat array or list: each element is a document
                array = array.reshape(-1, 1)
            return [list(array)]
        batches = []
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            array = self._as_array(batch)
            batches.append([array.reshape(1, -1)] if array.ndim <= 1 else list(array))
        return batches

    # -- call ----------------------------------------------------------------------------
    def _as_array(self, inputs):
        raise TypeError(f"{type(self).__name__} must define _as_array(): the lookup base "
                        "class leaves it to IntegerLookup and StringLookup")

    def call(self, inputs):
        if isinstance(inputs, Tracer) or current_trace() is not None:
            raise TracerError(
                f"{self._who}: lookup layers run eagerly (their table is a Python dict) and "
                f"cannot be compiled. Apply the layer to the data before the model (in the "
                f"input pipeline), or use run_eagerly=True / jit_compile='auto'")
        fixed = self.output_mode == "int" or self.pad_to_max_tokens
        if not fixed and self._frozen_vocab_size is None:
            raise RuntimeError(f"{self._who}: when using output_mode={self.output_mode} and "
                               "pad_to_max_tokens=False, you must set the layer's vocabulary "
                               "before calling it. Either pass a `vocabulary` argument to the "
                               "layer, or call `adapt` with some sample data")
        array = self._as_array(inputs)
        if self.invert:
            return self._invert(array)
        indices = self._lookup(array)
        if self.output_mode == "int":
            return ops.convert_to_tensor(indices)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "tf_idf" and self.idf_weights is None:
            raise ValueError(f"{self._who}: when `output_mode` is 'tf_idf', `idf_weights` "
                             "must be provided (adapt the layer or pass them)")
        encoded = _encode(indices, self.output_mode, depth, self.idf_weights)
        return ops.convert_to_tensor(encoded.astype(gk_config.floatx()))

    def _lookup(self, array):
        flat = [self._index.get(t, -1) for t in self._to_tokens(array)]
        indices = np.array(flat, np.int64).reshape(array.shape)
        oov = indices == -1
        if self.mask_token is not None:
            # In 'int' mode the mask is index 0; otherwise it is dropped from the counts.
            is_mask = array == self.mask_token
            indices[is_mask] = 0 if self.output_mode == "int" else np.iinfo(np.int64).max
            oov &= ~is_mask
        if self.num_oov_indices == 0 and oov.any():
            raise ValueError(f"{self._who}: when `num_oov_indices=0` all inputs should be in "
                             f"vocabulary, found OOV values {array[oov].tolist()}, consider "
                             f"setting `num_oov_indices=1`")
        indices[oov] = self._oov_start_index() + self._oov_buckets(array[oov])
        return indices

    def _oov_buckets(self, oov_tokens):
        """One OOV index; or, with several, Keras's buckets: floormod for integer tokens
        by default, else FarmHash Fingerprint64 (SipHash-2-4 when salted) of the token's
        string form."""
        if self.num_oov_indices <= 1:
            return 0
        if self.vocabulary_dtype != "string" and self.oov_method == "floormod":
            return oov_tokens.astype(np.int64) % self.num_oov_indices
        return hash_buckets(oov_tokens, self.num_oov_indices, self.salt)

    def _invert(self, array):
        vocab = self.get_vocabulary()
        ints = array.astype(np.int64)
        flat = [vocab[i] if self._token_start_index() <= i < len(vocab) else self.oov_token
                for i in ints.reshape(-1).tolist()]
        if self.mask_token is not None:
            flat = [self.mask_token if i == 0 else t
                    for i, t in zip(ints.reshape(-1).tolist(), flat)]
        return self._inverted_output(flat, ints.shape)

    def _inverted_output(self, flat, shape):
        raise TypeError(f"{type(self).__name__} must define _inverted_output(): the lookup base "
                        "class leaves it to IntegerLookup and StringLookup")

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def compute_output_spec(self, inputs):
        dtype = self._int_dtype() if self.output_mode == "int" else gk_config.floatx()
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    def _int_dtype(self):
        return "int64"

    # -- config and saving ---------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "invert": self.invert,
                "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": self.sparse,
                "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary_dtype": self.vocabulary_dtype,
                "idf_weights": _listify(self.input_idf_weights),
                "vocabulary": _listify(self.input_vocabulary),
                "vocabulary_size": self._frozen_vocab_size,
                "oov_method": self.oov_method, "salt": self.salt}

    def get_build_config(self):
        return {}

    def build_from_config(self, config):
        self.built = True

    def save_own_variables(self, store):
        if self.input_vocabulary is None and self._tokens:
            self._save_tokens(store)
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            store["idf_weights"] = self.idf_weights

    def load_own_variables(self, store):
        idf = np.asarray(store["idf_weights"]) if "idf_weights" in store else None
        if self.input_vocabulary is None and "vocabulary" in store:
            self._tokens = []  # loading replaces the vocabulary, whatever its size was
            self._frozen_vocab_size = None
            self._set_tokens(self._load_tokens(store))
        if idf is not None:
            self.idf_weights = idf.astype(gk_config.floatx())

    def _save_tokens(self, store):
        store["vocabulary"] = np.array(self._tokens, np.int64)

    def _load_tokens(self, store):
        return [int(t) for t in np.asarray(store["vocabulary"]).tolist()]


class IntegerLookup(IndexLookup):
    """Maps integer tokens to contiguous indices: [mask (index 0, if `mask_token` is set
    and output_mode='int')], `num_oov_indices` OOV indices, then the vocabulary. With
    several OOV indices an unknown token `t` goes to bucket `t % num_oov_indices`, or, with
    oov_method='farmhash', to the hash bucket of its decimal string (as Keras)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only `vocabulary_dtype='int64'` is supported "
                             f"at this time. Received: vocabulary_dtype={vocabulary_dtype}")
        if salt is not None and oov_method != "farmhash":
            raise ValueError(f"IntegerLookup: `salt` can only be used when "
                             f"`oov_method='farmhash'`. Received: oov_method={oov_method}")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, "int64",
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method,
                         salt=salt, name=name, **kwargs)

    def _to_tokens(self, values):
        return [int(v) for v in np.asarray(values).reshape(-1).tolist()]

    def _as_array(self, inputs):
        array = np.asarray(inputs)
        if array.dtype.kind not in "iub":
            if array.dtype.kind == "f" and np.all(array == np.round(array)):
                return array.astype(np.int64)
            raise TypeError(f"{self._who}: expected integer tokens, received dtype "
                            f"{array.dtype}")
        return array.astype(np.int64)

    def _inverted_output(self, flat, shape):
        return ops.convert_to_tensor(np.array(flat, np.int64).reshape(shape))

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None and not isinstance(config["vocabulary"], str):
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config


class StringLookup(IndexLookup):
    """Maps string tokens (a NumPy str/object array, a list, bytes decoded with
    `encoding`) to indices as IntegerLookup does; `invert=True` gives a NumPy str array.
    Several OOV indices are hash buckets (FarmHash Fingerprint64, SipHash when salted)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None,
                 oov_token="[UNK]", vocabulary=None, idf_weights=None, invert=False,
                 output_mode="int", pad_to_max_tokens=False, sparse=False, encoding="utf-8",
                 name=None, salt=None, **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, "string",
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, salt=salt, name=name, **kwargs)

    def _text(self, v):
        return v.decode(self.encoding) if isinstance(v, bytes) else str(v)

    def _to_tokens(self, values):
        return [self._text(v) for v in np.asarray(values, dtype=object).reshape(-1).tolist()]

    def _as_array(self, inputs):
        if self.invert:
            return np.asarray(inputs)
        array = np.asarray(inputs, dtype=object)
        if array.size and not all(isinstance(v, (str, bytes)) for v in array.reshape(-1)):
            raise TypeError(f"{self._who}: expected string tokens, received "
                            f"{type(array.reshape(-1)[0]).__name__} values")
        return np.vectorize(self._text, otypes=[object])(array) if array.size else array

    def _inverted_output(self, flat, shape):
        return np.array(flat, dtype=str).reshape(shape)

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]  # one valid dtype for strings: not exposed (Keras)
        return {**config, "encoding": self.encoding}

    def _save_tokens(self, store):
        encoded = [t.encode("utf-8") for t in self._tokens]
        store["vocabulary"] = np.frombuffer(b"".join(encoded), np.uint8).copy()
        store["vocabulary_lengths"] = np.array([len(e) for e in encoded], np.int64)

    def _load_tokens(self, store):
        data = np.asarray(store["vocabulary"], np.uint8).tobytes()
        ends = np.cumsum(np.asarray(store["vocabulary_lengths"], np.int64))
        starts = np.concatenate([[0], ends[:-1]])
        return [data[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]
