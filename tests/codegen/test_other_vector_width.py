"""The kernels of the other vector width than this machine's: AVX-512's tile shapes and
16-lane masks on an AVX2 machine (LLVM splits each vector into two registers), AVX2's on an
AVX-512 one. The emitters' width-dependent paths are checked wherever the suite runs, not
only on the kind of machine it happens to run on."""
import os
import subprocess
import sys

from graphkit.codegen.target import host_target

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ["tests/codegen/test_matmul.py", "tests/codegen/test_elementwise.py",
         "tests/codegen/test_reduction.py", "tests/codegen/test_conv.py",
         "tests/codegen/test_pool.py", "tests/codegen/test_gather.py",
         "tests/codegen/test_layout.py", "tests/codegen/test_mathlib.py",
         "tests/codegen/test_quotient_product.py", "tests/codegen/test_prepacked_b.py",
         "tests/debugging/test_parity_layers.py"]


def test_kernels_of_the_other_vector_width_pass_the_kernel_and_parity_tests(tmp_path):
    other = "256" if host_target().vector_bits >= 512 else "512"
    env = dict(os.environ, GRAPHKIT_VECTOR_BITS=other, GRAPHKIT_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "pytest", *FILES, "-q", "-x",
                           "-p", "no:cacheprovider"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"GRAPHKIT_VECTOR_BITS={other}:\n{proc.stdout[-4000:]}"
    assert " passed" in proc.stdout
