"""Train a small MLP classifier on graphkit's bundled 8x8 digits, save it, load it back.

    python examples/mlp_digits.py               # compiled train/test/predict steps (gk.jit)
    python examples/mlp_digits.py --eager       # the same model, run eagerly on NumPy
    python examples/mlp_digits.py --epochs 5

A Functional model (Input -> Dense -> Dense -> logits) trained with Adam on sparse
integer labels, validated on a held-out tenth of the training images, evaluated on the
test split, then saved to a `.keras` archive and reloaded; the reloaded model must
predict the same logits.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import graphkit as gk


def load_digits():
    """Digits flattened to 64 features and scaled to [0, 1] (pixel values are 0..16)."""
    (x_train, y_train), (x_test, y_test) = gk.datasets.digits.load_data()
    x_train = x_train.reshape(len(x_train), 64).astype("float32") / 16.0
    x_test = x_test.reshape(len(x_test), 64).astype("float32") / 16.0
    return (x_train, y_train), (x_test, y_test)


def build_model(hidden=64):
    inputs = gk.Input(shape=(64,), name="pixels")
    x = gk.layers.Dense(hidden, activation="relu", name="hidden_1")(inputs)
    x = gk.layers.Dense(hidden, activation="relu", name="hidden_2")(x)
    logits = gk.layers.Dense(10, name="logits")(x)
    return gk.Model(inputs, logits, name="mlp_digits")


def compile_model(model, eager=False, learning_rate=1e-2):
    model.compile(
        optimizer=gk.optimizers.Adam(learning_rate=learning_rate),
        loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        run_eagerly=eager,
    )
    return model


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eager", action="store_true",
                        help="run the steps eagerly instead of compiling them")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def main(argv=None):
    """Run the example; returns a dict of results (used by the tests)."""
    args = parse_args(argv)
    gk.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits()

    model = compile_model(build_model(), eager=args.eager)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1, verbose=args.verbose)
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained {args.epochs} epochs in {train_seconds:.1f} s "
          f"({'eager' if args.eager else 'jit_compile=' + repr(model.jit_compile)})")
    print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mlp_digits.keras")
        model.save(path)
        restored = gk.saving.load_model(path)
        expected = model.predict(x_test, verbose=0)
        received = restored.predict(x_test, verbose=0)
    max_difference = float(np.max(np.abs(expected - received)))
    if max_difference > 1e-5:
        raise AssertionError(f"the reloaded model predicts differently (max |diff| "
                             f"{max_difference:g})")
    print(f"saved and reloaded {os.path.basename(path)}: predictions match "
          f"(max |diff| {max_difference:.1e})")
    return {"history": history.history, "test_loss": test_loss,
            "test_accuracy": test_accuracy, "reload_max_difference": max_difference}


if __name__ == "__main__":
    results = main(sys.argv[1:])
    sys.exit(0 if results["test_accuracy"] >= 0.95 else 1)
