"""The seed guide's end-to-end example: a VAE trained with a GradientTape loop, then with
fit() (digits stand in for MNIST, which is not shipped)."""

import graphkit as gk
from graphkit import layers, ops


class Sampling(layers.Layer):
    """z = z_mean + exp(0.5 * z_log_var) * epsilon."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = gk.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = gk.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    def __init__(self, latent_dim=4, intermediate_dim=32, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        return z_mean, z_log_var, self.sampling((z_mean, z_log_var))


class Decoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim=32, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


class VariationalAutoEncoder(gk.Model):
    def __init__(self, original_dim, intermediate_dim=32, latent_dim=4,
                 name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


def digits_pixels():
    (x, _), _ = gk.datasets.digits.load_data()
    return x.reshape(-1, 64).astype("float32") / 16.0


def test_vae_with_a_gradient_tape_loop():
    gk.utils.set_random_seed(0)
    x_train = digits_pixels()[:512]
    vae = VariationalAutoEncoder(64)
    optimizer = gk.optimizers.Adam(learning_rate=1e-2)
    mse_loss_fn = gk.losses.MeanSquaredError()
    loss_metric = gk.metrics.Mean()
    epoch_means = []
    for epoch in range(3):
        loss_metric.reset_state()
        for start in range(0, len(x_train), 64):
            x_batch = x_train[start:start + 64]
            with gk.GradientTape() as tape:
                reconstructed = vae(x_batch)
                loss = mse_loss_fn(x_batch, reconstructed)
                loss += sum(vae.losses)
            grads = tape.gradient(loss, vae.trainable_weights)
            optimizer.apply_gradients(zip(grads, vae.trainable_weights))
            loss_metric(loss)
        epoch_means.append(float(loss_metric.result()))
    assert epoch_means[-1] < epoch_means[0]
    assert int(optimizer.iterations.numpy()) == 3 * 8


def test_vae_with_fit():
    gk.utils.set_random_seed(0)
    x_train = digits_pixels()[:512]
    vae = VariationalAutoEncoder(64)
    optimizer = gk.optimizers.Adam(learning_rate=1e-2)
    vae.compile(optimizer, loss=gk.losses.MeanSquaredError())
    vae(x_train[:2])
    (seed_state,) = [v for v in vae.non_trainable_variables if "seed" in v.path]
    before = seed_state.numpy().copy()
    history = vae.fit(x_train, x_train, epochs=3, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    # The seed generator's state is non-trainable model state that the pure train step
    # returns: it moved on by one draw per step, so every batch got fresh noise.
    after = seed_state.numpy()
    assert after[0] == before[0] and after[1] == before[1] + 3 * 8
