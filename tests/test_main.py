"""`python -m graphkit ir`: the IR of a saved model at each stage, DOT output, pass lists,
and clear errors for bad input."""
import os
import subprocess
import sys

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def saved_model(tmp_path):
    model = gk.Sequential([gk.Input((5,)), layers.Dense(4, activation="relu"),
                           layers.Dense(2)])
    path = str(tmp_path / "mlp.keras")
    model.save(path)
    return path


def run_main(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_optimized_ir_with_the_batch_size(saved_model, capsys):
    code, out, _ = run_main(["ir", saved_model, "--batch-size", "3"], capsys)
    assert code == 0
    assert out.startswith("graph @sequential(%0:f32[3,5] \"args[0]\"")
    assert "matmul" in out and "# sequential/dense/matmul" in out and " = kernel " not in out
    assert "f32[3,2] = add" in out and "return %" in out


@pytest.mark.parametrize("structure", ["dict", "list"])
def test_a_model_with_structured_inputs(structure, tmp_path, capsys):
    """The zero inputs are fed in the structure the model was built with."""
    a, b = gk.Input((3,), name="a"), gk.Input((2,), name="b")
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = gk.Model({"a": a, "b": b} if structure == "dict" else [a, b], out)
    path = str(tmp_path / "two_inputs.keras")
    model.save(path)
    code, text, _ = run_main(["ir", path, "--batch-size", "2"], capsys)
    assert code == 0
    assert "f32[2,3]" in text and "f32[2,2]" in text and "concatenate" in text


def test_each_stage(saved_model, capsys):
    _, traced, _ = run_main(["ir", saved_model, "--stage", "traced"], capsys)
    assert "f32[1,5]" in traced and "maximum" in traced  # default batch size 1
    _, kernels, _ = run_main(["ir", saved_model, "--stage", "kernels"], capsys)
    assert kernels.count(" = kernel ") == 2 and "body(" in kernels


def test_passes_and_a_dot_file(saved_model, capsys, tmp_path):
    dot = tmp_path / "g.dot"
    code, out, err = run_main(["ir", saved_model, "--passes", "canonicalize,fold,cse,fusion",
                               "--stage", "kernels", "--dot", str(dot)], capsys)
    assert code == 0 and " = kernel " in out and f"wrote {dot}" in err
    text = dot.read_text()
    assert text.startswith('digraph "sequential" {') and "matmul" in text
    assert text.count("->") >= 5 and text.rstrip().endswith("}")


def test_errors_are_one_clear_line(saved_model, capsys, tmp_path):
    code, out, err = run_main(["ir", str(tmp_path / "missing.keras")], capsys)
    assert code == 1 and out == ""
    assert "missing.keras': no such file" in err
    code, _, err = run_main(["ir", saved_model, "--passes", "fold,cse,fusoin"], capsys)
    assert code == 1 and "Unknown pass: 'fusoin'" in err and "fusion" in err
    code, _, err = run_main(["ir", saved_model, "--passes", "cse", "--stage", "kernels"],
                            capsys)
    assert code == 1 and "has no fusion pass" in err
    code, _, err = run_main(["ir", saved_model, "--batch-size", "0"], capsys)
    assert code == 1 and "--batch-size must be at least 1, received 0" in err
    not_a_model = tmp_path / "w.weights.npz"
    np.savez(not_a_model, a=np.zeros(2))
    code, _, err = run_main(["ir", str(not_a_model)], capsys)
    assert code == 1 and "Cannot load" in err
    with pytest.raises(SystemExit):  # argparse: unknown stage
        main(["ir", saved_model, "--stage", "fused"])


def test_python_dash_m(saved_model):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "graphkit", "ir", saved_model, "--stage",
                           "traced"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "graph @sequential(" in done.stdout and "# sequential/dense_1/add" in done.stdout



MODULE = '''
import graphkit as gk

@gk.saving.register_keras_serializable(package="Probe")
class TimesThree(gk.Layer):
    def call(self, x):
        return x * 3.0
'''


def test_a_model_with_a_custom_layer_from_an_imported_module(tmp_path):
    (tmp_path / "probe_layers.py").write_text(MODULE)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    save = ("import graphkit as gk, probe_layers\n"
            "gk.Sequential([gk.Input((2,)), probe_layers.TimesThree()]).save('m.keras')\n")
    subprocess.run([sys.executable, "-c", save], cwd=tmp_path, env=env, check=True)

    def ir(module):
        return subprocess.run([sys.executable, "-m", "graphkit", "ir", "m.keras", "--import",
                               module], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
    done = ir("probe_layers")
    assert done.returncode == 0, done.stderr
    assert "# sequential/times_three/multiply" in done.stdout
    missing = ir("no_such_module")
    assert missing.returncode == 1 and "--import no_such_module" in missing.stderr
