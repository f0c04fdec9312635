"""The pass pipeline's results on disk, so that a warm process runs no passes.

    key = pipeline_key(input_text, names, annotations)
    hit = load(key)    # {"stages": [(name, text)], "passes": [records], "memory_plan",
                       #  "verified", "graph"} or None
    store(key, stages, records, memory_plan, verified, graph)
    final = graph_of(hit)   # the stored final Graph, or None (then parse its text)

Layout: `<cache_dir()>/pipelines/<key>.gkp`, checked and written atomically like the object
cache (graphkit/ir/disk_entries.py). The key covers everything that decides the output: the
input graph's text, its annotations, the pass names and functions, and a digest of the
source of the IR and op packages (the passes, the kernel rules and every primitive's
shape rules), so an edited pass can never be served a stale result.

The final graph is stored twice: as text (the last stage, which `as_text` shows and which
keys the object cache) and pickled. Unpickling it takes ~0.6 ms where parsing the text takes
~2.5 ms (a W3 train step), on a warm process's first compiled call. The pickle is exactly the
graph the passes produced (annotations aside: a hit carries over the caller's and the stored
memory plan), and the sources digest covers the IR classes it is made of. An entry without
one (too deep to pickle, or written before) is parsed.
"""
import base64
import functools
import hashlib
import json
import os
import pickle
import sys

from graphkit import config
from graphkit.ir.graph import Graph
from graphkit.ir import disk_entries, source_memo

FORMAT = 1
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SOURCES = ("ir", "ops", "dtypes.py")   # relative to the graphkit package


@functools.lru_cache(maxsize=None)
def sources_digest():
    """sha256 over the source files the passes' results depend on (computed once per
    process, and read from source_memo.py's memo while no file changed)."""
    files = []
    for rel in _SOURCES:
        path = os.path.join(_PACKAGE, rel)
        if os.path.isfile(path):
            files.append(path)
            continue
        for folder, _, names in os.walk(path):
            files.extend(os.path.join(folder, n) for n in names if n.endswith(".py"))
    files.sort()
    return source_memo.remembered("pipeline sources", files, lambda: _hash_sources(files))


def _hash_sources(files):
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        h.update(os.path.relpath(path, _PACKAGE).encode("utf-8") + b"\0")
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def _canonical(value):
    """A process-independent text of an annotation (sets are sorted: their repr is not)."""
    if isinstance(value, (set, frozenset)):
        return repr(sorted(value, key=repr))
    return repr(value)


def _pass_identity(name):
    """Which function runs pass `name`. A pass module not imported yet runs its own `run`
    (whose source the digest covers); one imported may have had `run` replaced (a test's
    monkeypatch), and the replacement must not be served the original's results. Not
    importing the passes here keeps a warm process from loading them at all."""
    module = sys.modules.get(f"graphkit.ir.passes.{name}")
    fn = getattr(module, "run", None) if module is not None else None
    if fn is None:
        return f"graphkit.ir.passes.{name}.run"
    return f"{fn.__module__}.{fn.__qualname__}"


def pipeline_key(input_text, names, annotations):
    passes = [f"{name}={_pass_identity(name)}" for name in names]
    notes = [f"{k}={_canonical(v)}" for k, v in sorted(annotations.items())]
    return disk_entries.digest_key([f"graphkit pipeline cache {FORMAT}", sources_digest(),
                                    ",".join(passes), "\n".join(notes), input_text])


def _path(key):
    return os.path.join(config.cache_dir(), "pipelines", f"{key}.gkp")


def load(key):
    """The stored stages and pass records for `key`, or None (absent, corrupt, foreign)."""
    payload, _ = disk_entries.read_entry(_path(key), key)
    if payload is None:
        return None
    try:
        hit = json.loads(payload.decode("utf-8"))
        stages = [(str(name), str(text)) for name, text in hit["stages"]]
        return {"stages": stages, "passes": [dict(r) for r in hit["passes"]],
                "memory_plan": hit.get("memory_plan"), "verified": hit.get("verified") is True,
                "graph": hit.get("graph")}
    except (ValueError, KeyError, TypeError):
        return None   # a foreign payload under a valid header: the next store rewrites it


def store(key, stages, records, memory_plan=None, verified=False, graph=None):
    """`memory_plan`: the final graph's plan (`MemoryPlan.to_json()`), an annotation the text
    does not carry; stored so that a hit need not plan again. `verified`: the verifier passed
    the input and every stage (a verifying caller need not check a hit again). `graph`: the
    final graph (the last stage's text), stored pickled as well."""
    entry = {"stages": stages, "passes": records}
    blob = _pickled(graph) if graph is not None else None
    if blob is not None:
        entry["graph"] = blob
    if memory_plan is not None:
        entry["memory_plan"] = memory_plan
    if verified:
        entry["verified"] = True
    data = json.dumps(entry, separators=(",", ":"))
    return disk_entries.write_entry(_path(key), key, data.encode("utf-8"))


def _pickled(graph):
    """`graph` pickled (base64 text), without its annotations; None where it cannot be (a
    graph too deep for the pickler's recursion, an attribute that does not pickle)."""
    notes, graph.annotations = graph.annotations, {}
    try:
        data = pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL)
    except (RecursionError, pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None
    finally:
        graph.annotations = notes
    return base64.b64encode(data).decode("ascii")


def graph_of(hit):
    """The final Graph a hit stored pickled, or None (none stored, or it does not load:
    the caller parses the text instead)."""
    blob = hit.get("graph")
    if not isinstance(blob, str):
        return None
    try:
        graph = pickle.loads(base64.b64decode(blob, validate=True))
    except Exception:  # noqa: BLE001 - any unreadable payload means: parse the text instead
        return None
    return graph if isinstance(graph, Graph) else None
