"""The variational autoencoder of the Keras guide "Making new layers and models via
subclassing", written with graphkit.

    python examples/vae.py                      # bundled 8x8 digits, flattened to 64 pixels
    python examples/vae.py --mnist ~/data/mnist # MNIST from local IDX files (784 pixels)
    python examples/vae.py --epochs 5 --eager

The model is trained twice from scratch: first with the guide's hand-written loop
(GradientTape, optimizer.apply_gradients, a Mean metric), then with compile()/fit(). The
KL divergence is added with `add_loss` inside `call`, so both loops see it: the first
through `vae.losses`, fit() through the compiled loss.
"""
import argparse
import sys
import time

import numpy as np

import graphkit as gk
from graphkit import layers, ops


@gk.saving.register_keras_serializable(package="examples")
class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        # The generator's state is a (non-trainable) variable of the layer, so a compiled
        # train step draws fresh noise on every step.
        self.seed_generator = gk.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = gk.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@gk.saving.register_keras_serializable(package="examples")
class Encoder(layers.Layer):
    """Maps digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


@gk.saving.register_keras_serializable(package="examples")
class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into pixels in [0, 1]."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


@gk.saving.register_keras_serializable(package="examples")
class VariationalAutoEncoder(gk.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32,
                 name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


def load_pixels(mnist_dir=None):
    """Training images flattened and scaled to [0, 1]: digits (64) or MNIST (784)."""
    if mnist_dir is None:
        (x_train, _), _ = gk.datasets.digits.load_data()
        scale = 16.0
    else:
        (x_train, _), _ = gk.datasets.mnist.load_data(mnist_dir)
        scale = 255.0
    return x_train.reshape(len(x_train), -1).astype("float32") / scale


def train_with_gradient_tape(vae, x_train, epochs, batch_size, learning_rate, seed,
                             log_every=100):
    """The guide's custom loop; returns the mean loss of each epoch."""
    optimizer = gk.optimizers.Adam(learning_rate=learning_rate)
    mse_loss_fn = gk.losses.MeanSquaredError()
    loss_metric = gk.metrics.Mean()
    rng = np.random.default_rng(seed)
    epoch_losses = []
    for epoch in range(epochs):
        print(f"Start of epoch {epoch}")
        loss_metric.reset_state()
        order = rng.permutation(len(x_train))  # the guide shuffles its tf.data pipeline
        for step, start in enumerate(range(0, len(x_train), batch_size)):
            x_batch = x_train[order[start:start + batch_size]]
            with gk.GradientTape() as tape:
                reconstructed = vae(x_batch)
                loss = mse_loss_fn(x_batch, reconstructed)
                loss += sum(vae.losses)  # the KL divergence added in call()
            grads = tape.gradient(loss, vae.trainable_weights)
            optimizer.apply_gradients(zip(grads, vae.trainable_weights))
            loss_metric(loss)
            if step % log_every == 0:
                print(f"step {step}: mean loss = {float(loss_metric.result()):.4f}")
        epoch_losses.append(float(loss_metric.result()))
        print(f"epoch {epoch}: mean loss = {epoch_losses[-1]:.4f}")
    return epoch_losses


def train_with_fit(vae, x_train, epochs, batch_size, learning_rate, eager, verbose):
    """compile()/fit(); returns the loss of each epoch."""
    optimizer = gk.optimizers.Adam(learning_rate=learning_rate)
    vae.compile(optimizer, loss=gk.losses.MeanSquaredError(), run_eagerly=eager)
    history = vae.fit(x_train, x_train, epochs=epochs, batch_size=batch_size,
                      verbose=verbose)
    return history.history["loss"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: 1e-3 on MNIST (the guide's), 1e-2 on the small digits")
    parser.add_argument("--mnist", metavar="DIR", default=None,
                        help="train on MNIST read from the IDX files in DIR")
    parser.add_argument("--eager", action="store_true", help="run fit() eagerly")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def main(argv=None):
    """Run the example; returns the epoch losses of both trainings (used by the tests)."""
    args = parse_args(argv)
    x_train = load_pixels(args.mnist)
    original_dim = x_train.shape[1]
    if args.mnist is None:  # 1,442 images of 64 pixels: a smaller net and a larger step
        sizes, learning_rate = {"intermediate_dim": 32, "latent_dim": 8}, 1e-2
    else:
        sizes, learning_rate = {"intermediate_dim": 64, "latent_dim": 32}, 1e-3
    learning_rate = args.learning_rate or learning_rate
    print(f"{len(x_train)} images of {original_dim} pixels")

    print("== training with a GradientTape loop ==")
    gk.utils.set_random_seed(args.seed)
    vae = VariationalAutoEncoder(original_dim, **sizes)
    start = time.perf_counter()
    tape_losses = train_with_gradient_tape(vae, x_train, args.epochs, args.batch_size,
                                           learning_rate, args.seed)
    print(f"({time.perf_counter() - start:.1f} s)")

    print("== training with compile() and fit() ==")
    gk.utils.set_random_seed(args.seed)
    vae = VariationalAutoEncoder(original_dim, **sizes)
    start = time.perf_counter()
    fit_losses = train_with_fit(vae, x_train, args.epochs, args.batch_size, learning_rate,
                                args.eager, args.verbose)
    print(f"({time.perf_counter() - start:.1f} s)")
    print("epoch losses, GradientTape loop:", " ".join(f"{v:.4f}" for v in tape_losses))
    print("epoch losses, fit():            ", " ".join(f"{v:.4f}" for v in fit_losses))
    return {"tape_losses": tape_losses, "fit_losses": fit_losses}


if __name__ == "__main__":
    main(sys.argv[1:])
