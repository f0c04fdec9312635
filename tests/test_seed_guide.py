"""The Keras guide "Making new layers and models via subclassing" (seeds/000), ported by the
SPEC's rule (keras -> graphkit, tf.* -> graphkit.ops.*), up to "The Model class". Each test
asserts what the guide prints or asserts."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops


# -- "The Layer class: the combination of state (weights) and some computation" ----------------

class LinearInInit(gk.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def test_linear_layer_with_weights_created_in_init():
    x = ops.ones((2, 2))
    linear_layer = LinearInInit(4, 2)
    y = linear_layer(x)
    assert y.shape == (2, 4) and y.dtype == "float32"
    # Both rows are the same: the input rows are equal.
    np.testing.assert_array_equal(y.numpy()[0], y.numpy()[1])
    expected = np.ones((2, 2)) @ linear_layer.w.numpy() + linear_layer.b.numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    # random_normal (stddev 0.05) gives small outputs, as in the printed tensor.
    assert np.all(np.abs(y.numpy()) < 0.5)
    assert linear_layer.weights == [linear_layer.w, linear_layer.b]


# -- "Layers can have non-trainable weights" ------------------------------------------------------

class ComputeSum(gk.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


def test_compute_sum_prints_2_then_4():
    x = ops.ones((2, 2))
    my_sum = ComputeSum(2)
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [4.0, 4.0])
    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


# -- "Best practice: deferring weight creation until the shape of the inputs is known" ------------

class Linear(gk.layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def test_lazy_linear_builds_on_first_call():
    x = ops.ones((2, 2))
    linear_layer = Linear(32)  # at instantiation, we don't know the inputs
    assert linear_layer.weights == []
    y = linear_layer(x)
    assert y.shape == (2, 32)
    assert linear_layer.w.shape == (2, 32) and linear_layer.b.shape == (32,)


# -- "Layers are recursively composable" ----------------------------------------------------------

class MLPBlock(gk.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = ops.relu(x)
        x = self.linear_2(x)
        x = ops.relu(x)
        return self.linear_3(x)


def test_mlp_block_tracks_six_weights():
    mlp = MLPBlock()
    y = mlp(ops.ones(shape=(3, 64)))  # the first call creates the weights
    assert y.shape == (3, 1)
    assert len(mlp.weights) == 6
    assert len(mlp.trainable_weights) == 6
    assert [w.shape for w in mlp.weights] == [(64, 32), (32,), (32, 32), (32,), (32, 1), (1,)]


# -- "The add_loss() method" ----------------------------------------------------------------------

class ActivityRegularizationLayer(gk.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(gk.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


def test_losses_are_reset_at_each_top_level_call():
    layer = OuterLayer()
    assert len(layer.losses) == 0  # no losses yet: the layer has never been called
    # The guide writes tf.zeros(1, 1), TensorFlow's (shape=1, dtype=float32).
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # one loss value was created
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # the loss of the call above only


class OuterLayerWithKernelRegularizer(gk.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = gk.layers.Dense(32, kernel_regularizer=gk.regularizers.l2(1e-3))

    def call(self, inputs):
        return self.dense(inputs)


def test_losses_include_the_kernel_regularization():
    layer = OuterLayerWithKernelRegularizer()
    _ = layer(ops.zeros((1, 1)))
    (loss,) = layer.losses
    assert loss.shape == () and loss.dtype == "float32"
    kernel = layer.dense.kernel.numpy().astype("float64")
    np.testing.assert_allclose(float(loss), 1e-3 * np.sum(kernel ** 2), rtol=1e-5)


def _classification_problem(n_per_class=40, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    x = np.concatenate([c + 0.7 * rng.standard_normal((n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(len(y))
    return x[order].astype("float32"), y[order].astype("int32")


def test_gradient_tape_training_loop_lowers_the_loss():
    gk.utils.set_random_seed(1)

    class Classifier(gk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.hidden = Linear(16)
            self.reg = ActivityRegularizationLayer(1e-3)
            self.logits = Linear(3)

        def call(self, inputs):
            return self.logits(self.reg(ops.relu(self.hidden(inputs))))

    layer = model = Classifier()
    x_train, y_train = _classification_problem()
    train_dataset = [(x_train[i:i + 20], y_train[i:i + 20]) for i in range(0, 120, 20)]

    # Instantiate an optimizer and a loss, as the guide does (a larger step to converge fast).
    optimizer = gk.optimizers.SGD(learning_rate=1e-1)
    loss_fn = gk.losses.SparseCategoricalCrossentropy(from_logits=True)

    def full_loss():
        return float(loss_fn(y_train, layer(x_train)))

    initial = full_loss()
    for _ in range(15):
        for x_batch_train, y_batch_train in train_dataset:
            with gk.GradientTape() as tape:
                logits = layer(x_batch_train)
                loss_value = loss_fn(y_batch_train, logits)
                loss_value += sum(model.losses)  # the extra losses of this forward pass
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
    final = full_loss()
    assert final < 0.5 * initial, (initial, final)
    accuracy = np.mean(np.argmax(layer(x_train).numpy(), axis=1) == y_train)
    assert accuracy > 0.9


# -- "You can optionally enable serialization on your layers" -------------------------------------

class LinearWithConfig(gk.layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def test_get_config_returns_the_units():
    layer = LinearWithConfig(64)
    config = layer.get_config()
    assert config == {"units": 64}
    new_layer = LinearWithConfig.from_config(config)
    assert new_layer.units == 64


class LinearWithBaseConfig(gk.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def test_get_config_with_base_keys():
    for _ in range(7):  # the guide's layer is the 8th of its class: linear_7
        LinearWithBaseConfig()
    layer = LinearWithBaseConfig(64)
    config = layer.get_config()
    assert config == {"name": "linear_with_base_config_7", "trainable": True,
                      "dtype": "float32", "units": 64}
    new_layer = LinearWithBaseConfig.from_config(config)
    assert new_layer.name == "linear_with_base_config_7" and new_layer.units == 64


# -- "Privileged training argument in the call() method" ------------------------------------------

class CustomDropout(gk.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs, training=False):
        if training:
            return ops.dropout(inputs, rate=self.rate)
        return inputs


def test_custom_dropout_acts_only_in_training():
    layer = CustomDropout(0.5)
    x = np.ones((200, 50), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    y = layer(x, training=True).numpy()
    kept = y != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(y[kept], 2.0)  # kept units are scaled by 1 / (1 - rate)


def test_training_reaches_custom_dropout_inside_a_block():
    class Block(gk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dropout = CustomDropout(0.5)

        def call(self, inputs):
            return self.dropout(inputs)
    x = np.ones((100, 10), "float32")
    assert np.all(Block()(x).numpy() == 1.0)
    assert np.any(Block()(x, training=True).numpy() == 0.0)


# -- "Privileged mask argument in the call() method" ----------------------------------------------

def test_mask_from_embedding_is_passed_to_a_layer_that_takes_mask():
    class MaskedMean(gk.layers.Layer):
        def call(self, inputs, mask=None):
            weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
            return ops.sum(inputs * weights, axis=1) / ops.sum(weights, axis=1)

    embedding = gk.layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)
    tokens = np.array([[3, 5, 0, 0], [2, 0, 0, 0]], "int32")
    out = MaskedMean()(embedding(tokens)).numpy()
    table = embedding.embeddings.numpy()
    np.testing.assert_allclose(out[0], (table[3] + table[5]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], table[2], rtol=1e-6)


# -- "These losses also work seamlessly with fit()" -----------------------------------------------

def test_add_loss_with_fit():
    inputs = gk.Input(shape=(3,))
    outputs = ActivityRegularizationLayer()(inputs)
    model = gk.Model(inputs, outputs)
    # With a loss in compile, the regularization losses are added to it.
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.random((2, 3)), np.random.random((2, 3))
    history = model.fit(x, y, verbose=0)
    expected = np.mean((x - y) ** 2) + 1e-2 * np.mean(x)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-4)
    # Without a loss in compile, the model trains on the add_loss losses alone.
    model.compile(optimizer="adam")
    history = model.fit(x, y, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], 1e-2 * np.mean(x), rtol=1e-4)


# -- the Sampling layer of the VAE, in a Functional model -----------------------------------------

class SeededSampling(gk.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = gk.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = gk.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def test_sampling_layer_builds_a_functional_model_with_an_unknown_batch():
    inputs = gk.Input(shape=(6,))
    z_mean = gk.layers.Dense(3)(inputs)
    z_log_var = gk.layers.Dense(3)(inputs)
    z = SeededSampling()((z_mean, z_log_var))
    assert z.shape == (None, 3) and z.dtype == "float32"
    encoder = gk.Model(inputs, [z_mean, z_log_var, z])
    mean, log_var, sample = encoder(np.ones((5, 6), np.float32))
    assert sample.shape == (5, 3)
    assert not np.allclose(sample.numpy(), mean.numpy())  # noise was added


def test_random_shape_with_unknown_dims_is_still_refused_outside_a_layer():
    with pytest.raises(ValueError, match="fully known"):
        gk.random.normal(shape=(None, 3))
