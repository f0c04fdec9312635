"""Text-in, text-out pass cases kept as files in tests/ir/cases/*.gkir.

Each file holds `# pipeline: <passes>`, the input IR (in canonical form: it must print back
identically), `# expect:` and the IR the pipeline must produce. The verifier runs after every
pass, and the interpreter must give the same results before and after.
"""
import glob
import os

import pytest

from graphkit import ir
from tests.ir.helpers import assert_same_results

CASES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "cases", "*.gkir")))


def read_case(path):
    pipeline, sections, current = None, {"input": [], "expect": []}, "input"
    for line in open(path).read().splitlines(keepends=True):
        if line.startswith("# pipeline:"):
            pipeline = line.split(":", 1)[1].strip()
        elif line.startswith("# expect:"):
            current = "expect"
        elif line.startswith("#"):
            continue  # a description
        else:
            sections[current].append(line)
    return pipeline, "".join(sections["input"]), "".join(sections["expect"])


def test_every_pass_has_cases():
    from graphkit.ir.passes.manager import PASSES
    used = {name for path in CASES for name in read_case(path)[0].split(",")}
    assert set(PASSES) <= used


@pytest.mark.parametrize("path", CASES, ids=[os.path.basename(p)[:-5] for p in CASES])
def test_case(path):
    pipeline, source, expected = read_case(path)
    assert pipeline, f"{path}: no '# pipeline:' line"
    graph = ir.verify(ir.parse(source))
    assert str(graph) == source, "the input is not in the printer's canonical form"
    original = graph.clone()
    result = ir.run_pipeline(graph, pipeline, verify_each=True, dump_dir=False)
    assert str(result.graph) == expected
    assert str(ir.parse(expected)) == expected
    # Inputs of both signs: where a rewrite is refused for x < 0, both graphs give NaN.
    assert_same_results(original, result.graph)
