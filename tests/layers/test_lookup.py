"""IntegerLookup and StringLookup: expectations computed by hand (Keras 3.15's rules)."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.ir.tracer import TracerError

S = np.array([["a", "z", ""], ["c", "b", "a"]])


def arr(x):
    return np.asarray(x)


def test_string_lookup_int_mode_oov_and_mask():
    layer = layers.StringLookup(vocabulary=["a", "b", "c"], mask_token="")
    # index 0 mask, 1 OOV, then a=2, b=3, c=4
    np.testing.assert_array_equal(arr(layer(S)), [[2, 1, 0], [4, 3, 2]])
    assert arr(layer(S)).dtype == np.int64
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c"]
    assert layer.vocabulary_size() == 5


def test_string_lookup_accepts_lists_bytes_and_scalars():
    layer = layers.StringLookup(vocabulary=["a", "b"])
    np.testing.assert_array_equal(arr(layer([b"b", "a", "q"])), [2, 1, 0])
    assert int(arr(layer("b"))) == 2


def test_vocabulary_with_special_tokens_is_not_duplicated():
    layer = layers.StringLookup(vocabulary=["[UNK]", "a", "b"])
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]


def test_integer_lookup_floormod_oov_buckets():
    layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=3)
    x = np.array([[12, 1138, 42], [42, 1000, 37]])
    # tokens start at 3; 1000 % 3 = 1, 37 % 3 = 1
    np.testing.assert_array_equal(arr(layer(x)), [[3, 5, 6], [6, 1, 1]])


def test_integer_lookup_on_graphkit_tensor_and_mask():
    layer = layers.IntegerLookup(vocabulary=[5, 6], mask_token=0)
    x = gk.ops.convert_to_tensor(np.array([[0, 5, 9, 6]], np.int64))
    np.testing.assert_array_equal(arr(layer(x)), [[0, 2, 1, 3]])
    assert layer.get_vocabulary() == [0, -1, 5, 6]


def test_num_oov_indices_zero_errors_on_oov():
    layer = layers.IntegerLookup(vocabulary=[1, 2], num_oov_indices=0)
    np.testing.assert_array_equal(arr(layer([2, 1])), [1, 0])
    with pytest.raises(ValueError, match=r"IntegerLookup '.*found OOV values \[7\]"):
        layer([1, 7])


@pytest.mark.parametrize("mode,expected", [
    ("one_hot", [[[0, 1, 0, 0], [1, 0, 0, 0]], [[0, 0, 0, 1], [0, 0, 1, 0]]]),
    ("multi_hot", [[1, 1, 0, 0], [0, 0, 1, 1]]),
    ("count", [[1, 1, 0, 0], [0, 0, 1, 1]]),
])
def test_encoded_output_modes(mode, expected):
    layer = layers.StringLookup(vocabulary=["a", "b", "c"], output_mode=mode)
    out = arr(layer(np.array([["a", "q"], ["c", "b"]])))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_mask_token_is_dropped_in_count_mode_and_padding():
    layer = layers.StringLookup(vocabulary=["a"], mask_token="", output_mode="count",
                                max_tokens=4, pad_to_max_tokens=True)
    # no mask slot outside 'int' mode: OOV=0, a=1; padded to 4
    np.testing.assert_array_equal(arr(layer([["a", "", "a", "x"]])), [[1, 2, 0, 0]])


def test_tf_idf_with_given_weights_pads_specials_with_the_average():
    layer = layers.StringLookup(vocabulary=["a", "b", "c"], output_mode="tf_idf",
                                idf_weights=[0.5, 1.0, 3.0])
    np.testing.assert_allclose(arr(layer([["a", "a", "q", "c"]])), [[1.5, 1.0, 0.0, 3.0]])


def test_adapt_orders_by_count_then_token_descending():
    layer = layers.StringLookup()
    layer.adapt([["x", "y", "y"], ["z", "z", "z"], ["w", "x", "y"]])
    assert layer.get_vocabulary() == ["[UNK]", "z", "y", "x", "w"]
    short = layers.StringLookup(max_tokens=3)
    short.adapt([["x", "y", "y"], ["z", "z", "z"], ["w", "x", "y"]])
    assert short.get_vocabulary() == ["[UNK]", "z", "y"]
    ints = layers.IntegerLookup(mask_token=0)
    ints.adapt(np.array([3, 3, 5, 9, 9, 0, -1]))  # mask and OOV tokens are not learned
    assert ints.get_vocabulary() == [0, -1, 9, 3, 5]


def test_adapt_tf_idf_document_frequencies():
    layer = layers.StringLookup(output_mode="tf_idf")
    layer.adapt([["a", "b"], ["a", "c"], ["a", "a"]])
    # 3 documents; df(a)=3, df(b)=df(c)=1; idf = log(1 + N / (1 + df))
    idf_a, idf_bc = np.log(1 + 3 / 4), np.log(1 + 3 / 2)
    expected = [np.mean([idf_a, idf_bc, idf_bc]), idf_a, idf_bc, idf_bc]
    np.testing.assert_allclose(layer.idf_weights, expected, rtol=1e-6)
    np.testing.assert_allclose(arr(layer([["a", "c", "zz"]])),
                               [[expected[0], idf_a, idf_bc, 0.0]], rtol=1e-6)


def test_adapt_iterable_of_batches_and_steps():
    layer = layers.IntegerLookup()
    layer.adapt(iter([np.array([[1, 2]]), np.array([[2, 2]]), np.array([[7, 7, 7, 7]])]),
                steps=2)
    assert layer.get_vocabulary() == [-1, 2, 1]


def test_invert_maps_indices_back():
    strings = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
    out = strings(np.array([[1, 3, 0], [4, 9, 2]]))
    np.testing.assert_array_equal(out, [["[UNK]", "b", ""], ["c", "[UNK]", "a"]])
    ints = layers.IntegerLookup(vocabulary=[12, 36], invert=True)
    np.testing.assert_array_equal(arr(ints(np.array([1, 2, 0, 5]))), [12, 36, -1, -1])


def test_set_vocabulary_replaces_and_validates():
    layer = layers.StringLookup()
    layer.set_vocabulary(["b", "a"])
    np.testing.assert_array_equal(arr(layer(["a", "b"])), [2, 1])
    with pytest.raises(ValueError, match=r"StringLookup '.*repeated term.*\['a'\]"):
        layer.set_vocabulary(["a", "a"])
    masked = layers.StringLookup(mask_token="")
    with pytest.raises(ValueError, match=r"StringLookup '.*reserved mask_token"):
        masked.set_vocabulary(["a", ""])
    with pytest.raises(ValueError, match=r"maximum vocab size"):
        layers.StringLookup(max_tokens=2, vocabulary=["a", "b"])


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\n\n")
    layer = layers.StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(output_mode="one_hot", invert=True), "must be 'int' when `invert`"),
    (dict(output_mode="bad"), "`output_mode` must be one of"),
    (dict(max_tokens=1), "`max_tokens` must be greater than 1"),
    (dict(num_oov_indices=-1), "`num_oov_indices` must be greater"),
    (dict(idf_weights=[1.0]), "`idf_weights` should only be set"),
    (dict(output_mode="tf_idf", vocabulary=["a"]), "`idf_weights` argument must also"),
    (dict(sparse=True), "sparse=True is not supported"),
])
def test_constructor_errors_name_the_layer(kwargs, match):
    with pytest.raises(ValueError, match=r"StringLookup '.*" + match):
        layers.StringLookup(**kwargs)


# Hashed OOV buckets: expected indices computed with Keras 3.15 on TensorFlow 2.21
# (`tf.strings.to_hash_bucket_fast` / `to_hash_bucket_strong`), pinned here.
HASHED_S = np.array([["a", "zebra", ""], ["c", "héllo", "q" * 80],
                     ["b", "xyzzy", "unknown token"]])
HASHED_I = np.array([[12, 1000, 37], [-5, 42, 99999999999], [0, 1, 2]])


@pytest.mark.parametrize("make,x,expected", [
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=3), HASHED_S,
     [[3, 2, 2], [5, 2, 2], [4, 2, 2]]),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=5,
                                 mask_token=""), HASHED_S,
     [[6, 3, 0], [8, 2, 1], [7, 3, 4]]),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=4, salt=7),
     HASHED_S, [[4, 2, 2], [6, 1, 0], [5, 3, 0]]),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=4,
                                 salt=(1, 2**50)), HASHED_S,
     [[4, 3, 1], [6, 0, 0], [5, 0, 1]]),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=3,
                                 output_mode="count"), HASHED_S,
     [[0, 0, 2, 1, 0, 0], [0, 0, 2, 0, 0, 1], [0, 0, 2, 0, 1, 0]]),
    (lambda: layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=3,
                                  oov_method="farmhash"), HASHED_I,
     [[3, 2, 2], [0, 4, 1], [1, 0, 1]]),
    (lambda: layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=6,
                                  oov_method="farmhash", mask_token=0), HASHED_I,
     [[7, 6, 6], [1, 8, 2], [0, 4, 2]]),
    (lambda: layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=5,
                                  oov_method="farmhash", salt=[3, 4]), HASHED_I,
     [[5, 1, 1], [0, 6, 0], [0, 1, 1]]),
    (lambda: layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=5,
                                  oov_method="farmhash", output_mode="multi_hot"), HASHED_I,
     [[1, 0, 0, 1, 0, 1, 0], [0, 1, 1, 0, 0, 0, 1], [1, 0, 0, 0, 1, 0, 0]]),
    # the default for integers stays floormod: 1000 % 3 = 1, -5 % 3 = 1, ...
    (lambda: layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=3), HASHED_I,
     [[3, 1, 1], [1, 4, 0], [0, 1, 2]]),
])
def test_hashed_oov_buckets_match_keras(make, x, expected):
    np.testing.assert_array_equal(arr(make()(x)), expected)


def test_hashed_oov_config_round_trip():
    layer = layers.IntegerLookup(vocabulary=[12, 42], num_oov_indices=5,
                                 oov_method="farmhash", salt=3)
    clone = layers.IntegerLookup.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.get_config()["salt"] == [3, 3]
    np.testing.assert_array_equal(arr(clone(HASHED_I)), arr(layer(HASHED_I)))


def test_encoded_mode_needs_a_vocabulary_and_freezes_its_size():
    layer = layers.StringLookup(output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="must set the layer's vocabulary"):
        layer(["a"])
    layer.set_vocabulary(["a"])
    layer(["a"])
    with pytest.raises(RuntimeError, match="cannot be changed"):
        layer.set_vocabulary(["a", "b"])


@pytest.mark.parametrize("make", [
    lambda: layers.StringLookup(vocabulary=["a", "b"], mask_token="", output_mode="count"),
    lambda: layers.IntegerLookup(vocabulary=[4, 2], num_oov_indices=2, oov_token=-7),
    lambda: layers.StringLookup(vocabulary=["a", "b"], output_mode="tf_idf",
                                idf_weights=[1.0, 2.0], encoding="utf-8"),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert clone.get_vocabulary() == layer.get_vocabulary()
    x = [["a", "b", "q"]] if isinstance(layer, layers.StringLookup) else [[4, 2, 9]]
    np.testing.assert_array_equal(arr(clone(x)), arr(layer(x)))


def test_config_keys_match_keras():
    config = layers.StringLookup().get_config()
    assert {"max_tokens", "num_oov_indices", "mask_token", "oov_token", "vocabulary",
            "idf_weights", "invert", "output_mode", "pad_to_max_tokens", "sparse",
            "vocabulary_size", "oov_method", "salt", "encoding"} <= set(config)
    assert "vocabulary_dtype" in layers.IntegerLookup().get_config()


def test_adapted_vocabulary_is_saved_with_the_model(tmp_path):
    strings = layers.StringLookup(output_mode="tf_idf")
    strings.adapt([["é", "b"], ["é", "ccc"]])
    ints = layers.IntegerLookup()
    ints.adapt(np.array([[7, 7, 3]]))
    inputs = gk.Input((3,), dtype="int64")
    model = gk.Model(inputs, layers.Dense(2)(gk.ops.cast(ints(inputs), "float32")))
    model.save(tmp_path / "m.keras")
    loaded = gk.saving.load_model(tmp_path / "m.keras")
    x = np.array([[7, 3, 1]])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded_ints = [l for l in loaded.layers if isinstance(l, layers.IntegerLookup)][0]
    assert loaded_ints.get_vocabulary() == [-1, 7, 3]
    # String inputs cannot enter a graphkit model: the string layer's state goes through
    # the same store the archive uses (numeric arrays only: UTF-8 bytes plus lengths).
    from graphkit.saving.variable_store import PathStore
    saved = {}
    strings.save_own_variables(PathStore(saved, "s"))
    assert all(np.asarray(v).dtype.kind in "iuf" for v in saved.values())
    clone = layers.StringLookup.from_config(strings.get_config())
    clone.load_own_variables(PathStore(saved, "s"))
    assert clone.get_vocabulary() == strings.get_vocabulary() == ["[UNK]", "é", "ccc", "b"]
    np.testing.assert_allclose(arr(clone([["é", "b", "q"]])), arr(strings([["é", "b", "q"]])))


def test_compiling_says_the_layer_runs_eagerly():
    layer = layers.IntegerLookup(vocabulary=[3, 5])
    inputs = gk.Input((2,), dtype="int64")
    model = gk.Model(inputs, layers.Dense(1)(gk.ops.cast(layer(inputs), "float32")))
    x = np.array([[3, 5]])
    eager = model.predict(x, verbose=0)
    model.compile(jit_compile=True)
    with pytest.raises(TracerError, match="IntegerLookup '.*run eagerly"):
        model.predict(x, verbose=0)
    model.compile(jit_compile="auto")  # falls back to eager
    np.testing.assert_allclose(model.predict(x, verbose=0), eager)
