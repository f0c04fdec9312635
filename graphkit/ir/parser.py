"""The exact inverse of `printer.print_graph`: IR text -> `Graph`.

Value names are kept as written, so `str(parse(text)) == text` for any text in the
printer's canonical form, and hand-written test cases may use names such as `%x`.
Errors name the line and say what was expected.

A warm process parses the pipeline cache's optimized graph instead of running the passes
(passes/pipeline_cache.py), so parsing is on the path of a compiled function's first call
and is kept lean: a line is split by one regex `findall` (a character no token can start
with is caught as its own group), a token's kind follows from its first character, and
each distinct type text is parsed once per graph.
"""
import base64
import functools
import json
import re

import numpy as np

from graphkit.ir.graph import CONSTANT, KERNEL, Graph
from graphkit.ir.types import parse_type


class ParseError(ValueError):
    pass


# One token: a value (with its type where it is defined), a graph name, base64 data, a
# string, a number, an identifier, punctuation or a comment (the rest of the line).
_TOKEN = (r'%[A-Za-z0-9_.]+(?::[a-z0-9]+\[[0-9?,]*\])?'
          r'|@[A-Za-z0-9_.\-]+'
          r'|b64"[A-Za-z0-9+/=]*"'
          r'|"(?:[^"\\]|\\.)*"'
          r'|-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+|inf\b|nan\b)'
          r'|[A-Za-z_][A-Za-z0-9_]*'
          r'|[(){}\[\],=:]'
          r'|\#.*')


@functools.lru_cache(maxsize=None)
def _tokens():
    """The line regex: `findall` gives (token, "") per token, and ("", c) for a character c
    no token starts with. Compiled on first use (~0.5 ms): a warm process loads the pipeline
    cache's pickled graph and parses nothing."""
    return re.compile(r"\s*(?:(" + _TOKEN + r")|(\S))")


_KIND_OF_FIRST = {"@": "gname", '"': "str", "#": "comment", "-": "num",
                  **{c: "punct" for c in "(){}[],=:"}, **{c: "num" for c in "0123456789"}}
_NAMED_LITERALS = {"True": True, "False": False, "None": None}


def _kind(tok):
    """vdef (`%3:f32[2]`), val, gname, b64, str, num, ident, punct or comment."""
    first = tok[0]
    if first == "%":
        return "vdef" if ":" in tok else "val"
    kind = _KIND_OF_FIRST.get(first)
    if kind is not None:
        return kind
    if tok == "inf" or tok == "nan":
        return "num"
    return "b64" if tok.startswith('b64"') else "ident"


class _Line:
    """The tokens of one line (their text), with a cursor."""

    __slots__ = ("text", "lineno", "tokens", "comment", "i")

    def __init__(self, text, lineno):
        self.text, self.lineno = text, lineno
        found = _tokens().findall(text)
        tokens = [tok for tok, _ in found]
        if "" in tokens:
            self._unexpected_character()
        self.comment = tokens.pop()[1:].strip() if tokens and tokens[-1][0] == "#" else None
        self.tokens = tokens
        self.i = 0

    def _unexpected_character(self):
        for m in _tokens().finditer(self.text):
            if m.group(2):
                self.fail(f"unexpected character {m.group(2)!r} at column {m.start(2) + 1}")

    def fail(self, msg):
        raise ParseError(f"line {self.lineno}: {msg}\n    {self.text.strip()}")

    def peek(self):
        """The next token's text, or None at the end of the line."""
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def peek_kind(self):
        tok = self.peek()
        return None if tok is None else _kind(tok)

    def _expected(self, want):
        tok = self.peek()
        self.fail(f"expected {want!r}, found {tok or 'end of line'!r}")

    def take(self, kind=None):
        """The next token, which must be of `kind` (any kind when None)."""
        tok = self.peek()
        if tok is None or (kind is not None and _kind(tok) != kind):
            self._expected(kind or "a token")
        self.i += 1
        return tok

    def expect(self, text):
        """Consume the next token, which must be exactly `text`."""
        if self.peek() != text:
            self._expected(text)
        self.i += 1

    def accept(self, text):
        if self.i < len(self.tokens) and self.tokens[self.i] == text:
            self.i += 1
            return True
        return False

    def at_end(self):
        return self.i >= len(self.tokens)

    def expect_end(self):
        if not self.at_end():
            self.fail(f"unexpected {self.peek()!r}")


def parse(text):
    """Parse IR text into a Graph (raises ParseError naming the line)."""
    lines = [_Line(t, i + 1) for i, t in enumerate(text.splitlines()) if t.strip()]
    if not lines:
        raise ParseError("empty IR text: expected 'graph @name(...) {'")
    parser = _Parser(lines)
    graph = parser.parse_graph()
    if parser.pos != len(lines):
        lines[parser.pos].fail("text after the end of the graph")
    return graph


def _string(ln, tok):
    """A string token's value (JSON, as the printer writes it). Most hold no backslash and
    no control character, and are their own value between the quotes."""
    if "\\" not in tok and tok.isprintable():
        return tok[1:-1]
    try:
        return json.loads(tok)
    except ValueError as e:
        ln.fail(f"invalid string {tok}: {e}")


class _Parser:
    def __init__(self, lines):
        self.lines = lines
        self.pos = 0
        self.values = {}    # name -> Value visible in the graph being parsed
        self.defined = set()  # every name so far, kernel bodies included (names are unique)
        self.types = {}     # type text -> TensorType (immutable, so values may share one)

    def line(self):
        if self.pos >= len(self.lines):
            self.lines[-1].fail("unexpected end of text (a '}' is missing)")
        ln = self.lines[self.pos]
        self.pos += 1
        return ln

    def parse_graph(self):
        ln = self.line()
        ln.expect("graph")
        name = ln.take("gname")[1:]
        graph = Graph(name)
        ln.expect("(")
        self._params(ln, graph, labels=True)
        ln.expect("{")
        ln.expect_end()
        self._nodes(graph, "return")
        return graph

    def _params(self, ln, graph, labels):
        if ln.accept(")"):
            return
        while True:
            name, type_ = self._vdef(ln)
            label = _string(ln, ln.take()) if labels and ln.peek_kind() == "str" else None
            self._define(ln, name, graph.add_param(type_, label, name=name))
            if ln.accept(")"):
                return
            ln.expect(",")

    def _vdef(self, ln):
        name, type_text = ln.take("vdef")[1:].split(":", 1)
        type_ = self.types.get(type_text)
        if type_ is None:
            try:
                type_ = self.types[type_text] = parse_type(type_text)
            except ValueError as e:
                ln.fail(str(e))
        return name, type_

    def _define(self, ln, name, value):
        if name in self.defined:
            ln.fail(f"value %{name} is defined twice")
        self.defined.add(name)
        self.values[name] = value

    def _use(self, ln):
        name = ln.take("val")[1:]
        value = self.values.get(name)
        if value is None:
            where = "outside this kernel body" if name in self.defined else "before it is defined"
            ln.fail(f"value %{name} is used {where}")
        return value

    def _nodes(self, graph, terminator):
        while True:
            ln = self.line()
            if ln.peek() == terminator:
                ln.i += 1
                values, labels = self._use_list(ln, labels=terminator == "return")
                graph.set_outputs(values, labels)
                ln.expect_end()
                self.line().expect("}")
                return
            self._node(ln, graph)

    def _use_list(self, ln, labels):
        values, names = [], []
        while not ln.at_end():
            values.append(self._use(ln))
            names.append(_string(ln, ln.take()) if labels and ln.peek_kind() == "str" else None)
            if not ln.accept(","):
                break
        return values, names

    def _node(self, ln, graph):
        results = [self._vdef(ln)]
        while ln.accept(","):
            results.append(self._vdef(ln))
        ln.expect("=")
        op = ln.take("ident")
        operands, attrs, value = [], {}, None
        if op == CONSTANT:
            value = self._constant(ln, results)
        else:
            if ln.peek_kind() == "val":
                operands.append(self._use(ln))
                while ln.accept(","):
                    operands.append(self._use(ln))
            if ln.peek() == "{":
                attrs = self._attrs(ln)
        ln.expect_end()
        body = self._kernel_body(graph) if op == KERNEL else None
        node = graph.add_node(op, operands, [t for _, t in results], attrs, ln.comment or "",
                              value, body, out_names=[n for n, _ in results])
        for (name, _), out in zip(results, node.outputs):
            self._define(ln, name, out)

    def _kernel_body(self, graph):
        ln = self.line()
        ln.expect("body")
        ln.expect("(")
        body = Graph(f"{graph.name}.body", graph.namer)
        outer, self.values = self.values, {}  # a body sees only its own params and nodes
        self._params(ln, body, labels=False)
        ln.expect("{")
        ln.expect_end()
        self._nodes(body, "yield")
        self.values = outer
        return body

    def _attrs(self, ln):
        ln.expect("{")
        attrs = {}
        if ln.accept("}"):
            return attrs
        while True:
            key = ln.take("ident")
            ln.expect("=")
            attrs[key] = self._literal(ln)
            if ln.accept("}"):
                return attrs
            ln.expect(",")

    def _literal(self, ln):
        tok = ln.peek()
        kind = None if tok is None else _kind(tok)
        if kind == "num":
            ln.i += 1
            return int(tok) if tok.lstrip("-").isdigit() else float(tok)
        if kind == "str":
            ln.i += 1
            return _string(ln, tok)
        if kind == "ident" and tok in _NAMED_LITERALS:
            ln.i += 1
            return _NAMED_LITERALS[tok]
        if tok in ("(", "["):
            ln.i += 1
            close = ")" if tok == "(" else "]"
            items = []
            while not ln.accept(close):
                items.append(self._literal(ln))
                if not ln.accept(","):
                    ln.expect(close)
                    break
            return tuple(items) if tok == "(" else items
        ln.fail(f"expected a literal (number, string, True/False/None, tuple), found {tok!r}")

    def _constant(self, ln, results):
        if len(results) != 1:
            ln.fail("a constant has exactly one result")
        type_ = results[0][1]
        if ln.peek_kind() == "b64":
            raw = base64.b64decode(ln.take()[4:-1])
            dt = np.dtype(type_.dtype).newbyteorder("<")
            if len(raw) != type_.size * dt.itemsize:
                ln.fail(f"constant data has {len(raw)} bytes, type {type_} needs "
                        f"{type_.size * dt.itemsize}")
            return np.frombuffer(raw, dtype=dt).astype(type_.dtype).reshape(type_.shape)
        lit = self._literal(ln)
        try:
            array = np.array(lit, dtype=type_.dtype)
        except (TypeError, ValueError) as e:
            ln.fail(f"constant literal does not fit type {type_}: {e}")
        if array.shape != type_.shape:
            ln.fail(f"constant literal has shape {array.shape}, type {type_} says {type_.shape}")
        return array
