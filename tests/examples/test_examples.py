"""Each example runs end to end (few epochs) through its `main(argv)`."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("mode", [[], ["--eager"]], ids=["compiled", "eager"])
def test_mlp_digits_reaches_95_percent_and_reloads(mode, capsys):
    results = load_example("mlp_digits").main(["--epochs", "12", "--verbose", "0"] + mode)
    assert results["test_accuracy"] >= 0.95
    assert results["reload_max_difference"] <= 1e-5
    history = results["history"]
    assert len(history["loss"]) == 12 and history["loss"][-1] < history["loss"][0]
    assert "val_accuracy" in history
    assert "test accuracy" in capsys.readouterr().out


def test_vae_epoch_losses_go_down_in_both_loops(capsys):
    results = load_example("vae").main(["--epochs", "3", "--verbose", "0"])
    for key in ("tape_losses", "fit_losses"):
        losses = results[key]
        assert len(losses) == 3 and np.all(np.isfinite(losses))
        assert losses[-1] < losses[0], (key, losses)
    out = capsys.readouterr().out
    assert "epoch losses, GradientTape loop" in out and "Start of epoch 2" in out


def test_vae_mnist_flag_reads_idx_files(tmp_path, capsys):
    """`--mnist DIR` reads the four IDX files (here a tiny synthetic set of 28x28 images)."""
    rng = np.random.default_rng(0)

    def write_idx(name, array):
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape)
        (tmp_path / name).write_bytes(header + array.astype(np.uint8).tobytes())

    for split, n in (("train", 128), ("t10k", 16)):
        write_idx(f"{split}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(f"{split}-labels-idx1-ubyte", rng.integers(0, 10, size=(n,)))
    results = load_example("vae").main(["--mnist", str(tmp_path), "--epochs", "2", "--eager",
                                        "--verbose", "0"])
    assert len(results["fit_losses"]) == 2
    assert "128 images of 784 pixels" in capsys.readouterr().out


def test_custom_layer_jit_prints_ir_and_stats(capsys):
    results = load_example("custom_layer_jit").main([])
    assert results["max_difference"] <= 1e-5
    stats = results["stats"]
    assert stats["kernels"] >= 1 and stats["flops"] > 0 and stats["passes"]
    out = capsys.readouterr().out
    assert "scaled_residual" in out and "kernels:" in out


def test_inspect_ir_fuses_the_w7_block_into_four_kernels(capsys):
    stats, error = load_example("inspect_ir").main(["--stage", "kernels", "--batch", "4"])
    # layer norm: 2 reductions; each Dense a matmul with its bias/gelu/residual epilogue.
    assert stats["kernels"] == 4
    assert error < 1e-4
    assert 'kind="matmul"' in capsys.readouterr().out


def test_resnet_digits_reaches_97_percent_compiled(capsys):
    """The mini ResNet of Layer blocks (Conv2D, BatchNormalization, Add) trained with `fit`,
    compiled; its weights survive save_weights/load_weights into a fresh model."""
    results = load_example("resnet_digits").main(["--epochs", "4", "--verbose", "0"])
    assert results["test_accuracy"] >= 0.97
    assert results["reload_max_difference"] <= 1e-5
    losses = results["history"]["loss"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert "jit_compile=True" in capsys.readouterr().out


def test_lstm_masking_padding_leaves_predictions_unchanged_compiled(capsys):
    """Sequences padded to 6 and to 11 steps: the masked LSTM predicts the same logits
    (each length is its own compiled predict step), and it learned the task."""
    results = load_example("lstm_masking").main(
        ["--max-length", "6", "--padded-lengths", "11", "--train-samples", "1024",
         "--test-samples", "256", "--epochs", "3", "--verbose", "0"])
    assert set(results["padding_differences"]) == {11}
    assert max(results["padding_differences"].values()) <= 1e-5
    # The mask is what makes padding harmless: reading the zeros as tokens changes the logits.
    assert results["unmasked_difference"] > 1e-2
    assert results["test_accuracy"] >= 0.9  # chance is 0.5
    assert "padded to 6 vs 11 steps" in capsys.readouterr().out


@pytest.mark.parametrize("name, argv", [
    ("resnet_digits", ["--train-samples", "64", "--filters", "4"]),
    ("lstm_masking", ["--max-length", "4", "--padded-lengths", "7", "--train-samples", "64",
                      "--test-samples", "32"]),
])
def test_conv_and_rnn_examples_run_eagerly(name, argv, capsys):
    """One cheap eager epoch of each: the same code runs on NumPy, padding still changes
    nothing (the accuracy of one tiny epoch is not checked)."""
    results = load_example(name).main(argv + ["--eager", "--epochs", "1", "--verbose", "0"])
    assert len(results["history"]["loss"]) == 1
    assert np.isfinite(results["history"]["loss"][0])
    if name == "lstm_masking":
        assert results["padding_differences"][7] <= 1e-5
    else:
        assert results["reload_max_difference"] <= 1e-5
    assert "(eager)" in capsys.readouterr().out
