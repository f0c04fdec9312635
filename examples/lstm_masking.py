"""Classify variable-length token sequences with a masked LSTM; padding cannot change the answer.

    python examples/lstm_masking.py               # compiled train and predict steps
    python examples/lstm_masking.py --eager       # the same model, run eagerly on NumPy
    python examples/lstm_masking.py --epochs 10

Each sequence holds 2..12 tokens (`--max-length`) from 1..19, zero-padded to 12 steps; its
label says whether the target token 7 occurs in it (half the sequences contain it). The
model is Embedding(mask_zero=True) -> LSTM -> Dense(1): the embedding marks the zeros as
padding and the LSTM keeps its state unchanged over masked steps, so its last output is the
state after the last real token. The proof: the test sequences padded to 12, 16 and 24
steps give the same predictions (up to float rounding), while the same weights fed an
all-true mask (the zeros read as tokens) predict differently. The LSTM unrolls over the
static number of steps, so each padded length is a compilation of its own.
"""
import argparse
import sys
import time

import numpy as np

import graphkit as gk
from graphkit import layers, ops

VOCABULARY = 20      # token ids 1..19; 0 is padding
TARGET_TOKEN = 7
MIN_LENGTH = 2


class SequenceClassifier(gk.Model):
    """Embedding (0 = padding) -> LSTM -> one logit; any padded length can be fed."""

    def __init__(self, embedding_dim=8, units=16, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(VOCABULARY, embedding_dim, mask_zero=True)
        self.lstm = layers.LSTM(units)
        self.classifier = layers.Dense(1)

    def call(self, tokens, mask_padding=True):
        vectors = self.embedding(tokens)  # carries the mask tokens != 0
        if mask_padding:
            state = self.lstm(vectors)    # the mask reaches the LSTM on its own
        else:                             # for contrast: every step counts as a token
            state = self.lstm(vectors, mask=ops.ones(tuple(tokens.shape), "bool"))
        return self.classifier(state)


def make_sequences(count, max_length, rng):
    """(token lists of MIN_LENGTH..max_length tokens, labels): label 1 iff TARGET_TOKEN
    occurs; half of them are positive."""
    others = np.array([t for t in range(1, VOCABULARY) if t != TARGET_TOKEN])
    sequences, labels = [], rng.permutation(np.arange(count) % 2)
    for label in labels:
        length = int(rng.integers(MIN_LENGTH, max_length + 1))
        tokens = rng.choice(others, size=length)
        if label:  # put the target in 1..3 random places
            places = rng.choice(length, size=int(rng.integers(1, min(3, length) + 1)),
                                replace=False)
            tokens[places] = TARGET_TOKEN
        sequences.append(tokens)
    return sequences, labels.astype("float32")


def pad(sequences, length):
    """Zero-pad (after the tokens) every sequence to `length` steps: int32 (count, length)."""
    out = np.zeros((len(sequences), length), "int32")
    for i, tokens in enumerate(sequences):
        out[i, :len(tokens)] = tokens
    return out


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-samples", type=int, default=2048)
    parser.add_argument("--test-samples", type=int, default=512)
    parser.add_argument("--max-length", type=int, default=12,
                        help="longest sequence; training pads every sequence to it")
    parser.add_argument("--padded-lengths", type=int, nargs="+", default=[16, 24],
                        help="longer padded lengths to predict the test set at")
    parser.add_argument("--eager", action="store_true",
                        help="run the steps eagerly instead of compiling them")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def padding_differences(model, sequences, max_length, lengths):
    """Predict `sequences` padded to `max_length` and to each of `lengths`; returns
    {length: max |difference| from the `max_length` predictions} and those predictions."""
    base = model.predict(pad(sequences, max_length), verbose=0)
    differences = {}
    for length in lengths:
        other = model.predict(pad(sequences, length), verbose=0)
        differences[length] = float(np.max(np.abs(other - base)))
    return differences, base


def main(argv=None):
    """Run the example; returns a dict of results (used by the tests)."""
    args = parse_args(argv)
    if args.max_length < MIN_LENGTH:
        raise ValueError(f"--max-length must be at least {MIN_LENGTH}, received "
                         f"{args.max_length}")
    if any(length <= args.max_length for length in args.padded_lengths):
        raise ValueError(f"--padded-lengths must be longer than --max-length "
                         f"({args.max_length}), received {args.padded_lengths}")
    max_length = args.max_length
    gk.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_sequences, y_train = make_sequences(args.train_samples, max_length, rng)
    test_sequences, y_test = make_sequences(args.test_samples, max_length, rng)

    model = SequenceClassifier()
    model.compile(optimizer=gk.optimizers.Adam(learning_rate=1e-2),
                  loss=gk.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[gk.metrics.BinaryAccuracy(threshold=0.0)],  # on logits
                  run_eagerly=args.eager, jit_compile=not args.eager)
    start = time.perf_counter()
    history = model.fit(pad(train_sequences, max_length), y_train, batch_size=args.batch_size,
                        epochs=args.epochs, verbose=args.verbose)
    train_seconds = time.perf_counter() - start
    print(f"trained {args.epochs} epochs in {train_seconds:.1f} s "
          f"({'eager' if args.eager else 'jit_compile=' + repr(model.jit_compile)})")

    differences, base = padding_differences(model, test_sequences, max_length,
                                            args.padded_lengths)
    # Accuracy from these logits rather than `evaluate`: one compiled step fewer.
    test_accuracy = float(np.mean((base[:, 0] > 0) == (y_test > 0.5)))
    print(f"test accuracy {test_accuracy:.4f} (chance 0.5)")
    for length, difference in differences.items():
        print(f"padded to {max_length} vs {length} steps: max |logit difference| "
              f"{difference:.1e}")
    unmasked = np.asarray(model(pad(test_sequences, max(args.padded_lengths)),
                                mask_padding=False))
    unmasked_difference = float(np.max(np.abs(unmasked - base)))
    print(f"without the mask (zeros read as tokens), padded to {max(args.padded_lengths)}: "
          f"max |logit difference| {unmasked_difference:.2f}")
    return {"history": history.history, "test_accuracy": test_accuracy,
            "train_seconds": train_seconds,
            "padding_differences": differences, "unmasked_difference": unmasked_difference}


if __name__ == "__main__":
    results = main(sys.argv[1:])
    worst = max(results["padding_differences"].values())
    sys.exit(0 if results["test_accuracy"] >= 0.9 and worst <= 1e-5 else 1)
