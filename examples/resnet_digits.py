"""Train a mini ResNet of `Layer` residual blocks on graphkit's bundled 8x8 digits.

    python examples/resnet_digits.py               # compiled train/test/predict steps
    python examples/resnet_digits.py --eager       # the same model, run eagerly on NumPy
    python examples/resnet_digits.py --epochs 4

The Model section of the Keras subclassing guide, made concrete: `ResidualBlock` is a
`Layer` (Conv2D -> BatchNormalization -> relu -> Conv2D -> BatchNormalization, added to
its input, then relu); `ResNet` is a `Model` of a Conv2D stem, two such blocks,
GlobalAveragePooling2D and a Dense classifier, trained with `fit`. The images are
reshaped to (8, 8, 1); every convolution keeps the 8x8 grid (`padding="same"`). The
weights are saved with `save_weights` and loaded into a fresh `ResNet`, which must
predict the same logits.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import graphkit as gk
from graphkit import layers, ops

# Keras's default momentum (0.99) makes the moving statistics average over ~100 steps; a
# few epochs of 8x8 digits are only ~45 steps each, so they would still remember their
# initial values (mean 0, variance 1) and inference would normalize with the wrong numbers.
BN_MOMENTUM = 0.9


class ResidualBlock(gk.layers.Layer):
    """Two 3x3 convolutions with batch norm, plus the identity shortcut."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        # use_bias=False: the batch norm that follows has its own offset (beta).
        self.conv_1 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.norm_1 = layers.BatchNormalization(momentum=BN_MOMENTUM)
        self.conv_2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.norm_2 = layers.BatchNormalization(momentum=BN_MOMENTUM)
        self.add = layers.Add()

    def call(self, inputs, training=None):
        x = ops.relu(self.norm_1(self.conv_1(inputs), training=training))
        x = self.norm_2(self.conv_2(x), training=training)
        return ops.relu(self.add([inputs, x]))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


class ResNet(gk.Model):
    """Stem convolution, residual blocks, global average pooling, logits."""

    def __init__(self, num_classes=10, filters=16, **kwargs):
        super().__init__(**kwargs)
        self.stem = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.stem_norm = layers.BatchNormalization(momentum=BN_MOMENTUM)
        self.block_1 = ResidualBlock(filters)
        self.block_2 = ResidualBlock(filters)
        self.global_pool = layers.GlobalAveragePooling2D()
        self.classifier = layers.Dense(num_classes)

    def call(self, inputs, training=None):
        x = ops.relu(self.stem_norm(self.stem(inputs), training=training))
        x = self.block_1(x, training=training)
        x = self.block_2(x, training=training)
        x = self.global_pool(x)
        return self.classifier(x)


def load_digits():
    """Digits as (8, 8, 1) images scaled to [0, 1] (pixel values are 0..16)."""
    (x_train, y_train), (x_test, y_test) = gk.datasets.digits.load_data()
    x_train = x_train.reshape(len(x_train), 8, 8, 1).astype("float32") / 16.0
    x_test = x_test.reshape(len(x_test), 8, 8, 1).astype("float32") / 16.0
    return (x_train, y_train), (x_test, y_test)


def compile_model(model, total_steps, eager=False, learning_rate=1e-2):
    # Cosine decay to zero over the whole run: the last epochs take small steps, so the
    # weights (and the batch-norm moving statistics that follow them) settle.
    schedule = gk.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    model.compile(
        optimizer=gk.optimizers.Adam(learning_rate=schedule),
        loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        run_eagerly=eager,
        jit_compile=not eager,
    )
    return model


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-2,
                        help="initial Adam learning rate (cosine-decayed to 0)")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--eager", action="store_true",
                        help="run the steps eagerly instead of compiling them")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def check_weights_round_trip(model, filters, x):
    """save_weights, load into a fresh ResNet, compare logits; returns the max |diff|."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet_digits.weights.npz")
        model.save_weights(path)
        restored = ResNet(filters=filters)
        restored(x[:1])  # build the weights before loading them
        restored.load_weights(path)
    expected = model.predict(x, verbose=0)
    received = restored.predict(x, verbose=0)
    return float(np.max(np.abs(expected - received)))


def main(argv=None):
    """Run the example; returns a dict of results (used by the tests)."""
    args = parse_args(argv)
    gk.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits()
    if args.train_samples is not None:
        x_train, y_train = x_train[:args.train_samples], y_train[:args.train_samples]
    # Whole batches only: a last, shorter batch has a new input shape, and compiling the
    # train step a second time for it costs more than the few images it holds are worth.
    steps_per_epoch = len(x_train) // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"resnet_digits: need at least one batch of {args.batch_size} "
                         f"training images, received {len(x_train)}")
    whole = steps_per_epoch * args.batch_size
    x_train, y_train = x_train[:whole], y_train[:whole]

    model = compile_model(ResNet(filters=args.filters), steps_per_epoch * args.epochs,
                          eager=args.eager, learning_rate=args.learning_rate)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose)
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained {args.epochs} epochs in {train_seconds:.1f} s "
          f"({'eager' if args.eager else 'jit_compile=' + repr(model.jit_compile)}), "
          f"{model.count_params()} parameters")
    print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")

    max_difference = check_weights_round_trip(model, args.filters, x_test)
    if max_difference > 1e-5:
        raise AssertionError(f"the reloaded weights predict differently (max |diff| "
                             f"{max_difference:g})")
    print(f"save_weights -> load_weights into a fresh ResNet: predictions match "
          f"(max |diff| {max_difference:.1e})")
    return {"history": history.history, "test_loss": test_loss,
            "test_accuracy": test_accuracy, "train_seconds": train_seconds,
            "reload_max_difference": max_difference}


if __name__ == "__main__":
    results = main(sys.argv[1:])
    sys.exit(0 if results["test_accuracy"] >= 0.97 else 1)
