"""The Layer base class: names, weights, tracking, build, losses, call context, masks,
input specs, configs, weights I/O, stateless calls and dtype policies."""

import re

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from graphkit.layers.input_spec import InputSpec


class Linear(gk.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias


class Counter(gk.Layer):
    """Own trainable and non-trainable weights, created in __init__."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="count")
        self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")

    def call(self, inputs):
        self.count.assign_add(1.0)
        return inputs * self.scale


# -- names and constructor -------------------------------------------------------------------

def test_names_are_unique_snake_case_by_class():
    class MyFancyLayer(gk.Layer):
        def call(self, x):
            return x
    names = [MyFancyLayer().name for _ in range(3)]
    assert names == ["my_fancy_layer", "my_fancy_layer_1", "my_fancy_layer_2"]
    assert Linear(name="custom").name == "custom"


def test_unknown_constructor_kwargs_are_named():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Linear.*"
                                         "unitz"):
        Linear(unitz=3)


def test_trainable_must_be_bool_and_name_has_no_slash():
    with pytest.raises(ValueError, match="trainable"):
        Linear(trainable="yes")
    with pytest.raises(ValueError, match="name"):
        Linear(name="a/b")


def test_forgetting_super_init_is_reported():
    class Broken(gk.Layer):
        def __init__(self):
            self.units = 3

        def call(self, x):
            return x
    layer = Broken()
    with pytest.raises(RuntimeError, match="forgot to call `super\\(\\).__init__\\(\\)`"):
        layer(np.ones((1, 2)))


# -- add_weight -----------------------------------------------------------------------------------

def test_add_weight_defaults_and_path():
    layer = Linear(3)
    layer(np.ones((2, 5), "float32"))
    assert layer.kernel.path == "linear/kernel"
    assert layer.bias.path == "linear/bias"
    assert layer.kernel.dtype == "float32" and layer.kernel.shape == (5, 3)
    k = layer.kernel.numpy()
    limit = np.sqrt(6.0 / (5 + 3))  # glorot_uniform by default for floats
    assert np.all(np.abs(k) <= limit) and np.std(k) > 0
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))


def test_add_weight_int_defaults_to_zeros_and_options():
    layer = gk.Layer()
    counter = layer.add_weight(shape=(2, 2), dtype="int32", trainable=False, name="n")
    assert counter.dtype == "int32"
    np.testing.assert_array_equal(counter.numpy(), np.zeros((2, 2)))
    w = layer.add_variable(shape=(3,), initializer=gk.initializers.Constant(2.0),
                           regularizer="l2", constraint="non_neg", name="w")
    np.testing.assert_array_equal(w.numpy(), [2.0, 2.0, 2.0])
    assert w.regularizer is not None and w.constraint is not None
    assert layer.weights == [w, counter]  # trainable first, then non-trainable
    with pytest.raises(ValueError, match="fully defined shape"):
        layer.add_weight(shape=(None, 3))


# -- build ----------------------------------------------------------------------------------------

def test_lazy_build_runs_once_and_records_the_shape():
    calls = []

    class Probe(Linear):
        def build(self, input_shape):
            calls.append(input_shape)
            super().build(input_shape)
    layer = Probe(2)
    assert not layer.built and layer.weights == []
    layer(np.ones((3, 4)))
    layer(np.ones((5, 4)))
    assert calls == [(3, 4)] and layer.built
    assert layer.get_build_config() == {"input_shape": (3, 4)}


def test_build_called_directly_and_build_from_config():
    layer = Linear(6)
    layer.build((None, 3))
    assert layer.built and layer.kernel.shape == (3, 6)
    other = Linear(6)
    other.build_from_config({"input_shape": [None, 3]})  # JSON gives lists
    assert other.built and other.kernel.shape == (3, 6)


def test_default_build_builds_sublayers_symbolically():
    class Outer(gk.Layer):
        def __init__(self):
            super().__init__()
            self.inner = Linear(5)

        def call(self, x):
            return self.inner(x)
    outer = Outer()
    outer.build((None, 7))
    assert outer.built and outer.inner.kernel.shape == (7, 5)


# -- tracking and weight order --------------------------------------------------------------------

def test_sublayers_in_lists_dicts_tuples_are_tracked_and_appends_too():
    class Container(gk.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = [Counter(), Counter()]
            self.by_name = {"a": Counter()}
            self.pair = (Counter(), Counter())
            self.blocks.append(Counter())
            self.by_name["b"] = Counter()

        def call(self, x):
            return x
    c = Container()
    assert isinstance(c.blocks, list) and isinstance(c.by_name, dict)
    assert len(c._layers) == 7
    assert len(c.weights) == 14
    removed = c.blocks.pop()
    assert len(c.weights) == 12 and removed not in c._layers


def test_variable_lists_follow_later_changes_of_any_layer_in_the_tree():
    # The walks are kept between reads (training reads them every step): a change deep in
    # the tree, a sublayer whose `variables` is computed, or a caller editing the returned
    # list must all show (or not leak) on the next read.
    extra = []  # not an attribute: no tracker sees what is added to it

    class Dynamic(gk.Layer):
        @property
        def variables(self):
            return list(extra)

        def call(self, x):
            return x
    outer, inner, dynamic = Counter(), Counter(), Dynamic()
    outer.inner = inner
    outer.dynamic = dynamic
    assert len(outer.variables) == 4 and len(outer._flatten_layers()) == 3
    inner.deeper = Counter()  # a change two levels down
    assert len(outer.variables) == 6 and len(outer._flatten_layers()) == 4
    extra.append(gk.Variable(np.zeros(1, "float32")))
    assert len(outer.variables) == 7
    outer.variables.clear()
    outer.trainable_weights.clear()
    assert len(outer.variables) == 7 and len(outer.trainable_weights) == 3
    del inner.deeper
    assert len(outer.variables) == 5 and len(outer._flatten_layers()) == 3
    assert outer.metrics == []
    inner.tracker = gk.metrics.Mean()  # a metric tracked deep in the tree
    assert outer.metrics == [inner.tracker]


def test_weights_order_is_keras_order():
    class Block(gk.Layer):
        def __init__(self):
            super().__init__()
            self.frozen = self.add_weight(shape=(1,), trainable=False, name="frozen")
            self.first = Counter()
            self.w = self.add_weight(shape=(1,), name="w")
            self.second = Linear(2)

        def call(self, x):
            return self.second(self.first(x))
    b = Block()
    b(np.ones((1, 2), "float32"))
    expected = [b.w, b.frozen, b.first.scale, b.first.count, b.second.kernel, b.second.bias]
    assert [v.path for v in b.weights] == [v.path for v in expected]
    assert b.trainable_weights == [b.w, b.first.scale, b.second.kernel, b.second.bias]
    assert b.non_trainable_weights == [b.frozen, b.first.count]
    assert b.variables == b.weights


def test_seed_generator_state_is_a_variable_but_not_a_weight():
    class Noisy(gk.Layer):
        def __init__(self):
            super().__init__()
            self.seed = gk.random.SeedGenerator(1)
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale + gk.random.normal(ops.shape(x), seed=self.seed)
    layer = Noisy()
    assert layer.weights == [layer.scale]
    assert layer.variables == [layer.scale, layer.seed.state]
    assert layer.non_trainable_variables == [layer.seed.state]
    assert layer.non_trainable_weights == []


def test_reassigning_an_attribute_untracks_the_old_layer():
    class Holder(gk.Layer):
        def call(self, x):
            return x
    h = Holder()
    h.sub = Counter()
    h.sub = Counter()
    assert len(h._layers) == 1 and len(h.weights) == 2
    del h.sub
    assert h.weights == []


def test_trainable_false_propagates_to_sublayers():
    class Outer(gk.Layer):
        def __init__(self):
            super().__init__()
            self.a = Counter()
            self.b = Linear(2)

        def call(self, x):
            return self.b(self.a(x))
    outer = Outer()
    outer(np.ones((1, 2), "float32"))
    outer.trainable = False
    assert outer.trainable_weights == [] and len(outer.non_trainable_weights) == 4
    assert outer.b.trainable is False and outer.b.trainable_weights == []
    outer.trainable = True
    assert len(outer.trainable_weights) == 3  # the counter stays non-trainable
    frozen = Counter(trainable=False)
    assert frozen.trainable_weights == [] and frozen.scale.trainable is False


# -- losses ---------------------------------------------------------------------------------------

class ActivityReg(gk.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(inputs))
        return inputs


def test_losses_reset_at_each_top_level_call_and_include_sublayers():
    class Outer(gk.Layer):
        def __init__(self):
            super().__init__()
            self.reg = ActivityReg(0.5)

        def call(self, x):
            self.add_loss(ops.sum(x))
            return self.reg(self.reg(x))
    outer = Outer()
    assert outer.losses == []
    outer(np.ones((2, 2), "float32"))
    values = [float(v) for v in outer.losses]
    assert values == [4.0, 2.0, 2.0]
    outer(np.full((2, 2), 2.0, "float32"))
    assert [float(v) for v in outer.losses] == [8.0, 4.0, 4.0]
    assert [float(v) for v in outer.reg.losses] == [4.0, 4.0]


def test_regularization_losses_are_computed_at_access():
    layer = gk.Layer()
    w = layer.add_weight(shape=(3,), initializer=gk.initializers.Constant(2.0),
                         regularizer=gk.regularizers.l2(0.1), name="w")
    (loss,) = layer.losses
    np.testing.assert_allclose(float(loss), 0.1 * 12.0, rtol=1e-6)
    w.assign([1.0, 1.0, 1.0])
    np.testing.assert_allclose(float(layer.losses[0]), 0.3, rtol=1e-6)


def test_activity_regularizer_constructor_argument():
    layer = Linear(2, activity_regularizer=gk.regularizers.l1(1.0))
    layer.build((None, 2))
    layer.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    layer(np.array([[1.0, -2.0], [3.0, 0.0]], "float32"))
    # l1 of the outputs divided by the batch size, as in Keras 3.
    np.testing.assert_allclose(float(layer.losses[0]), 6.0 / 2, rtol=1e-6)


# -- call context ---------------------------------------------------------------------------------

class TrainingProbe(gk.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


def test_training_propagates_to_sublayers():
    class Outer(gk.Layer):
        def __init__(self):
            super().__init__()
            self.probe = TrainingProbe()

        def call(self, x):  # no `training` argument of its own
            return self.probe(x)
    outer = Outer()
    x = np.ones((1, 1), "float32")
    outer(x, training=True)
    outer(x, training=False)
    outer(x)
    assert outer.probe.seen == [True, False, None]


def test_explicit_inner_training_wins_and_does_not_leak_to_siblings():
    class Outer(gk.Layer):
        def __init__(self):
            super().__init__()
            self.a = TrainingProbe()
            self.b = TrainingProbe()

        def call(self, x, training=None):
            return self.b(self.a(x, training=False))
    outer = Outer()
    outer(np.ones((1, 1), "float32"), training=True)
    assert outer.a.seen == [False] and outer.b.seen == [True]


def test_call_default_training_is_used_when_nothing_is_given():
    class Dropoutish(gk.Layer):
        def call(self, x, training=False):
            return x * 0.0 if training else x
    layer = Dropoutish()
    x = np.ones((1, 2), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), 0 * x)


# -- masks ----------------------------------------------------------------------------------------

class MakeMask(gk.Layer):
    def call(self, x):
        return x

    def compute_mask(self, inputs, previous_mask):
        return ops.not_equal(inputs, 0)


class SumMasked(gk.Layer):
    def __init__(self):
        super().__init__()
        self.supports_masking = True
        self.received = None

    def call(self, x, mask=None):
        self.received = mask
        return x if mask is None else x * ops.cast(mask, x.dtype)


def test_masks_flow_from_producer_to_consumer():
    x = np.array([[1.0, 0.0, 2.0]], "float32")
    maker, user = MakeMask(), SumMasked()
    assert maker.supports_masking  # compute_mask is overridden
    y = maker(x)
    np.testing.assert_array_equal(y._keras_mask.numpy(), [[True, False, True]])
    z = user(y)
    np.testing.assert_array_equal(user.received.numpy(), [[True, False, True]])
    # SumMasked keeps the previous mask on its output (the default compute_mask).
    np.testing.assert_array_equal(z._keras_mask.numpy(), [[True, False, True]])


def test_layer_without_masking_support_warns_and_drops_the_mask():
    class Plain(gk.Layer):
        def call(self, x):
            return x + 1.0
    y = MakeMask()(np.array([[1.0, 0.0]], "float32"))
    with pytest.warns(UserWarning, match="does not support masking"):
        out = Plain()(y)
    assert out._keras_mask is None


# -- input spec -----------------------------------------------------------------------------------

def test_input_spec_axis_message_follows_the_seed():
    layer = Linear(3)
    layer.input_spec = InputSpec(min_ndim=2, axes={-1: 5})
    layer(np.ones((10, 5), "float32"))
    with pytest.raises(ValueError) as e:
        layer(np.ones((10, 4), "float32"))
    msg = str(e.value)
    assert "Input 0 of layer 'linear' is incompatible with the layer" in msg
    assert "expected axis -1 of input shape to have value 5" in msg
    assert "received input with shape (10, 4)" in msg


@pytest.mark.parametrize("spec, x, fragment", [
    (InputSpec(ndim=3), np.ones((2, 2)), "expected ndim=3, found ndim=2"),
    (InputSpec(min_ndim=3), np.ones((2, 2)), "expected min_ndim=3, found ndim=2"),
    (InputSpec(max_ndim=1), np.ones((2, 2)), "expected max_ndim=1, found ndim=2"),
    (InputSpec(dtype="int32"), np.ones((2,), "float32"),
     "expected dtype=int32, found dtype=float32"),
    (InputSpec(shape=(None, 3)), np.ones((2, 2)), "expected shape=(None, 3), found shape=(2, 2)"),
])
def test_input_spec_mismatches(spec, x, fragment):
    class Id(gk.Layer):
        def call(self, x):
            return x
    layer = Id(name="probe")
    layer.input_spec = spec
    with pytest.raises(ValueError, match="Input 0 of layer 'probe'") as e:
        layer(x)
    assert fragment in str(e.value)


def test_input_spec_counts_inputs():
    class Pair(gk.Layer):
        def call(self, xs):
            return xs[0]
    layer = Pair(name="pair")
    layer.input_spec = [InputSpec(ndim=2), InputSpec(ndim=2)]
    with pytest.raises(ValueError, match="Layer 'pair' expects 2 input\\(s\\), but it received "
                                         "3 input tensors"):
        layer([np.ones((1, 1))] * 3)
    with pytest.raises(ValueError, match="Input 1 of layer 'pair'.*expected ndim=2"):
        layer([np.ones((1, 1)), np.ones((1,))])


def test_positional_non_tensors_are_rejected():
    layer = TrainingProbe(name="probe")
    with pytest.raises(ValueError, match="only input tensors may be passed as positional"):
        layer(np.ones((1,)), True)


# -- configs --------------------------------------------------------------------------------------

def test_auto_config_round_trip_and_base_keys():
    layer = Linear(7, name="lin", trainable=False, dtype="float64")
    config = layer.get_config()
    assert config == {"name": "lin", "trainable": False, "dtype": "float64", "units": 7}
    clone = Linear.from_config(config)
    assert (clone.name, clone.units, clone.trainable, clone.dtype) == ("lin", 7, False, "float64")


def test_auto_config_without_kwargs_keeps_only_accepted_keys():
    class Simple(gk.Layer):
        def __init__(self, units=3, rate=0.5):
            super().__init__()
            self.units, self.rate = units, rate

        def call(self, x):
            return x
    config = Simple(4).get_config()
    assert config == {"units": 4, "rate": 0.5}
    assert Simple.from_config(config).units == 4


def test_auto_config_names_the_non_serializable_argument():
    class WithFn(gk.Layer):
        def __init__(self, fn, units=2, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def call(self, x):
            return self.fn(x)
    layer = WithFn(np.tanh)
    with pytest.raises(TypeError, match="Layer WithFn cannot be serialized automatically: its "
                                        "constructor argument `fn`"):
        layer.get_config()


def test_overridden_get_config_gets_the_base_config():
    class Custom(Linear):
        def get_config(self):
            return {**super().get_config(), "units": self.units}
    assert Custom(64).get_config() == {"name": "custom", "trainable": True,
                                       "dtype": "float32", "units": 64}


def test_from_config_error_names_the_class():
    with pytest.raises(TypeError, match="Error when deserializing class 'Linear'"):
        Linear.from_config({"units": 3, "bogus": 1})


# -- weights I/O ----------------------------------------------------------------------------------

def test_get_set_weights_and_count_params():
    layer = Linear(3)
    with pytest.raises(ValueError, match="not built"):
        layer.count_params()
    layer(np.ones((1, 2), "float32"))
    assert layer.count_params() == 2 * 3 + 3
    new = [np.arange(6, dtype="float32").reshape(2, 3), np.ones(3, "float32")]
    layer.set_weights(new)
    for got, want in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="weight 0 'linear/kernel' has shape \\(2, 3\\), but "
                                         "the value given for it has shape \\(3, 2\\)"):
        layer.set_weights([np.ones((3, 2)), np.ones(3)])
    with pytest.raises(ValueError, match="received a list of 1 weights, but the layer has 2"):
        layer.set_weights([np.ones((2, 3))])


def test_save_and_load_own_variables():
    src = Counter()
    src.count.assign(5.0)
    store = {}
    src.save_own_variables(store)
    assert sorted(store) == ["0", "1"]  # scale (trainable) then count
    dst = Counter()
    dst.load_own_variables(store)
    assert float(dst.count.numpy()) == 5.0
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        dst.load_own_variables({"0": np.ones(2)})


# -- symbolic helpers -----------------------------------------------------------------------------

def test_compute_output_shape_and_spec_by_symbolic_run():
    layer = Linear(5)
    assert layer.compute_output_shape((None, 3)) == (None, 5)
    spec = layer.compute_output_spec(gk.KerasTensor((None, 3)))
    assert spec.shape == (None, 5) and spec.dtype == "float32"


def test_symbolic_call_does_not_touch_state():
    layer = Counter()
    layer.compute_output_spec(gk.KerasTensor((None, 2)))
    assert float(layer.count.numpy()) == 0.0


# -- stateless_call -------------------------------------------------------------------------------

def test_stateless_call_has_no_side_effect():
    layer = Counter()
    layer(np.ones((1, 2), "float32"))
    before = [w.numpy().copy() for w in layer.weights]
    out, new_nt = layer.stateless_call([np.array([2.0, 3.0], "float32")],
                                       [np.array(10.0, "float32")],
                                       np.ones((1, 2), "float32"))
    np.testing.assert_array_equal(out.numpy(), [[2.0, 3.0]])
    assert float(new_nt[0]) == 11.0
    for w, b in zip(layer.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)
    with pytest.raises(ValueError, match="trainable_variables"):
        layer.stateless_call([], [np.array(0.0)], np.ones((1, 2)))


def test_stateless_call_returns_losses_and_keeps_the_layers_losses():
    layer = ActivityReg(1.0)
    layer(np.ones((1, 2), "float32"))
    out, nt, losses = layer.stateless_call([], [], np.full((1, 2), 3.0, "float32"),
                                           return_losses=True)
    assert [float(v) for v in losses] == [6.0]
    assert [float(v) for v in layer.losses] == [2.0]


def test_stateless_call_requires_a_built_layer():
    with pytest.raises(ValueError, match="not built"):
        Linear(2).stateless_call([], [], np.ones((1, 2)))


# -- gradients -----------------------------------------------------------------------------------

def test_gradient_tape_through_a_layer_matches_analytic():
    layer = Linear(2)
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    layer(x)
    with gk.GradientTape() as tape:
        loss = ops.sum(layer(x) ** 2)
    gk_kernel, gk_bias = tape.gradient(loss, layer.trainable_weights)
    y = x.astype("float64") @ layer.kernel.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(gk_kernel.numpy(), x.T.astype("float64") @ (2 * y), rtol=1e-5)
    np.testing.assert_allclose(gk_bias.numpy(), (2 * y).sum(0), rtol=1e-5)


# -- dtype policies -------------------------------------------------------------------------------

def test_float64_policy_casts_inputs_and_makes_float64_weights():
    layer = Linear(2, dtype="float64")
    out = layer(np.ones((1, 3), "float32"))
    assert layer.kernel.dtype == "float64" and out.dtype == "float64"
    assert layer.compute_dtype == layer.variable_dtype == "float64"


def test_mixed_float16_computes_in_float16_with_float32_variables():
    layer = Linear(2, dtype="mixed_float16")
    out = layer(np.ones((1, 3), "float32"))
    assert layer.kernel.dtype == "float32"
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    assert out.dtype == "float16"
    expected = np.ones((1, 3), "float16") @ layer.kernel.numpy().astype("float16")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-3)
    assert layer.get_config()["dtype"] == "mixed_float16"
    assert gk.DTypePolicy("mixed_float16").compute_dtype == "float16"


def test_global_dtype_policy_as_keras_sets_it():
    # keras.mixed_precision.set_global_policy / keras.config.set_dtype_policy, ported.
    try:
        gk.mixed_precision.set_global_policy("mixed_float16")
        assert gk.mixed_precision.global_policy().name == "mixed_float16"
        layer = Linear(2)
        out = layer(np.ones((1, 3), "float32"))
        assert layer.kernel.dtype == "float32" and out.dtype == "float16"
        gk.config.set_dtype_policy(gk.mixed_precision.Policy("float64"))
        assert gk.config.dtype_policy().name == "float64"
        assert Linear(2)(np.ones((1, 3), "float32")).dtype == "float64"
    finally:
        gk.config.set_dtype_policy(None)
    assert gk.config.dtype_policy().name == "float32"
    assert Linear(2)(np.ones((1, 3), "float32")).dtype == "float32"


def test_integer_inputs_are_not_cast():
    class Id(gk.Layer):
        def call(self, x):
            return x
    out = Id(dtype="float64")(np.array([1, 2], "int32"))
    assert out.dtype == "int32"


def test_bad_policy_names_are_reported():
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        gk.DTypePolicy("mixed_bfloat16")
    with pytest.raises(ValueError, match="cannot interpret 'floaty'"):
        gk.DTypePolicy("floaty")


def test_dense_input_spec_error_of_the_internals_walkthrough():
    # seeds/002: a Dense built on vectors of length 5 then called on length 4.
    layer = gk.layers.Dense(3)
    layer(np.random.rand(10, 5))
    with pytest.raises(ValueError, match="Input 0 of layer 'dense' is incompatible with the "
                                         "layer: expected axis -1 of input shape to have "
                                         "value 5, but received input with shape \\(10, 4\\)"):
        layer(np.random.rand(10, 4))


@pytest.mark.parametrize("make, name", [
    (lambda: layers.Conv2D(2, 3), "conv2d"),
    (lambda: layers.MaxPooling2D(), "max_pooling2d"),
    (lambda: layers.GlobalAveragePooling1D(), "global_average_pooling1d"),
    (lambda: layers.MultiHeadAttention(2, 2), "multi_head_attention"),
])
def test_automatic_names_follow_keras_3(make, name):
    assert re.fullmatch(rf"{name}(_\d+)?", make().name)


def test_keras_second_names_are_the_same_classes():
    assert layers.MaxPool2D is layers.MaxPooling2D
    assert layers.GlobalAvgPool1D is layers.GlobalAveragePooling1D
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    for alias, name in layers.ALIASES.items():
        assert getattr(layers, alias) is getattr(layers, name), alias
        assert alias in dir(layers) and alias in layers.__all__
    # a layer made under the second name saves under the class's own name
    assert gk.saving.serialize_keras_object(layers.AvgPool2D())["class_name"] == \
        "AveragePooling2D"


def test_training_flag_inside_a_call_resolves_as_in_keras():
    # Inside an outer call, a layer takes the outer call's `training`, else its own call()
    # default, which its own sublayers then see (and which does not leak to later layers).
    seen = []

    class Probe(gk.layers.Layer):
        def call(self, x, training=None):
            seen.append((self.name, training))
            return x

    class DefaultsToTrue(gk.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Probe(name="inner")

        def call(self, x, training=True):
            seen.append((self.name, training))
            return self.inner(x)

    class Outer(gk.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = DefaultsToTrue(name="first")
            self.after = Probe(name="after")

        def call(self, x, training=None):
            return self.after(self.first(x))

    outer = Outer()
    x = gk.ops.ones((2, 3))
    for flag, want in ((None, [("first", True), ("inner", True), ("after", None)]),
                       (False, [("first", False), ("inner", False), ("after", False)])):
        for _ in range(2):  # the second call runs on the built layers' fast path
            seen.clear()
            outer(x, training=flag)
            assert seen == want, (flag, seen)
