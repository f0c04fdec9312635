"""A subclassed model with a custom layer, and a `@gk.jit` function that runs it.

    python examples/custom_layer_jit.py
    python examples/custom_layer_jit.py --stage traced     # or kernels, llvm

Shows the compiler's staged API: `f.lower(x)` traces and optimizes without running;
`.as_text(stage)` prints the IR at a stage and `.stats()` counts passes, kernels, flops and
bytes. The jitted function is then called and checked against the eager model.
"""
import argparse
import sys

import numpy as np

import graphkit as gk
from graphkit import layers, ops


class ScaledResidual(layers.Layer):
    """y = x + alpha * gelu(x @ w + b): a custom layer with its own weights."""

    def __init__(self, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def build(self, input_shape):
        units = input_shape[-1]
        self.w = self.add_weight(shape=(units, units), initializer="glorot_uniform",
                                 name="w")
        self.b = self.add_weight(shape=(units,), initializer="zeros", name="b")

    def call(self, x):
        return x + self.alpha * ops.gelu(ops.matmul(x, self.w) + self.b)


class Classifier(gk.Model):
    def __init__(self, units=32, classes=10, **kwargs):
        super().__init__(**kwargs)
        self.project = layers.Dense(units, activation="relu")
        self.residual = ScaledResidual()
        self.head = layers.Dense(classes)

    def call(self, x):
        return self.head(self.residual(self.project(x)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="optimized",
                        choices=("traced", "optimized", "kernels", "llvm"))
    parser.add_argument("--batch", type=int, default=16)
    return parser.parse_args(argv)


def main(argv=None):
    """Run the example; returns the stats and the largest eager/compiled difference."""
    args = parse_args(argv)
    gk.utils.set_random_seed(0)
    model = Classifier()
    x = np.random.default_rng(0).normal(size=(args.batch, 64)).astype("float32")
    eager = np.asarray(model(x))  # builds the weights

    @gk.jit
    def predict_probabilities(x):
        return ops.softmax(model(x), axis=-1)

    lowered = predict_probabilities.lower(x)
    print(f"--- IR at stage '{args.stage}' ---")
    print(lowered.as_text(args.stage))
    stats = lowered.stats()
    print("--- stats ---")
    print("passes: ", ", ".join(p.get("name", "?") for p in stats["passes"]))
    print(f"kernels: {stats['kernels']}, flops: {stats['flops']}, bytes: {stats['bytes']}")

    compiled = np.asarray(predict_probabilities(x))
    expected = np.asarray(ops.softmax(eager, axis=-1))
    difference = float(np.max(np.abs(compiled - expected)))
    print(f"compiled vs eager: max |diff| = {difference:.2e}")
    print("cache:", predict_probabilities.cache_info())
    if difference > 1e-5:
        raise AssertionError(f"the compiled function differs from eager by {difference}")
    return {"stats": stats, "max_difference": difference, "text": lowered.as_text(args.stage)}


if __name__ == "__main__":
    main(sys.argv[1:])
