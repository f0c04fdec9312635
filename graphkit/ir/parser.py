"""The exact inverse of `printer.print_graph`: IR text -> `Graph`.

Value names are kept as written, so `str(parse(text)) == text` for any text in the
printer's canonical form, and hand-written test cases may use names such as `%x`.
Errors name the line and say what was expected.
"""
import base64
import json
import re

import numpy as np

from graphkit.ir.graph import CONSTANT, KERNEL, Graph
from graphkit.ir.types import parse_type


class ParseError(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<vdef>%[A-Za-z0-9_.]+:[a-z0-9]+\[[0-9?,]*\])
  | (?P<val>%[A-Za-z0-9_.]+)
  | (?P<gname>@[A-Za-z0-9_.\-]+)
  | (?P<b64>b64"[A-Za-z0-9+/=]*")
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+|inf\b|nan\b))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(){}\[\],=:])
  | (?P<comment>\#.*$)
  | (?P<ws>\s+)
""", re.VERBOSE)


class _Line:
    """The tokens of one line, with a cursor."""

    def __init__(self, text, lineno):
        self.text, self.lineno = text, lineno
        self.tokens, self.comment = [], None
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(f"unexpected character {text[pos]!r} at column {pos + 1}")
            kind = m.lastgroup
            if kind == "comment":
                self.comment = m.group()[1:].strip()
            elif kind != "ws":
                self.tokens.append((kind, m.group()))
            pos = m.end()
        self.i = 0

    def fail(self, msg):
        raise ParseError(f"line {self.lineno}: {msg}\n    {self.text.strip()}")

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def next(self, kind=None, text=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (text and tok[1] != text):
            want = text or kind or "a token"
            self.fail(f"expected {want!r}, found {tok[1] or 'end of line'!r}")
        self.i += 1
        return tok[1]

    def accept(self, text):
        if self.peek()[1] == text:
            self.i += 1
            return True
        return False

    def at_end(self):
        return self.i >= len(self.tokens)

    def expect_end(self):
        if not self.at_end():
            self.fail(f"unexpected {self.peek()[1]!r}")


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


class _Parser:
    def __init__(self, lines):
        self.lines = lines
        self.pos = 0
        self.values = {}    # name -> Value visible in the graph being parsed
        self.defined = set()  # every name so far, kernel bodies included (names are unique)

    def line(self):
        if self.pos >= len(self.lines):
            self.lines[-1].fail("unexpected end of text (a '}' is missing)")
        ln = self.lines[self.pos]
        self.pos += 1
        return ln

    def parse_graph(self):
        ln = self.line()
        ln.next("ident", "graph")
        name = ln.next("gname")[1:]
        graph = Graph(name)
        ln.next("punct", "(")
        self._params(ln, graph, labels=True)
        ln.next("punct", "{")
        ln.expect_end()
        self._nodes(graph, "return")
        return graph

    def _params(self, ln, graph, labels):
        if ln.accept(")"):
            return
        while True:
            name, type_ = self._vdef(ln)
            label = json.loads(ln.next("str")) if labels and ln.peek()[0] == "str" else None
            self._define(ln, name, graph.add_param(type_, label, name=name))
            if ln.accept(")"):
                return
            ln.next("punct", ",")

    def _vdef(self, ln):
        tok = ln.next("vdef")
        name, type_text = tok[1:].split(":", 1)
        try:
            return name, parse_type(type_text)
        except ValueError as e:
            ln.fail(str(e))

    def _define(self, ln, name, value):
        if name in self.defined:
            ln.fail(f"value %{name} is defined twice")
        self.defined.add(name)
        self.values[name] = value

    def _use(self, ln):
        name = ln.next("val")[1:]
        if name not in self.values:
            where = "outside this kernel body" if name in self.defined else "before it is defined"
            ln.fail(f"value %{name} is used {where}")
        return self.values[name]

    def _nodes(self, graph, terminator):
        while True:
            ln = self.line()
            kind, tok = ln.peek()
            if kind == "ident" and tok == terminator:
                ln.next()
                values, labels = self._use_list(ln, labels=terminator == "return")
                graph.set_outputs(values, labels)
                ln.expect_end()
                self.line().next("punct", "}")
                return
            self._node(ln, graph)

    def _use_list(self, ln, labels):
        values, names = [], []
        while not ln.at_end():
            values.append(self._use(ln))
            names.append(json.loads(ln.next("str")) if labels and ln.peek()[0] == "str"
                         else None)
            if not ln.accept(","):
                break
        return values, names

    def _node(self, ln, graph):
        results = [self._vdef(ln)]
        while ln.accept(","):
            results.append(self._vdef(ln))
        ln.next("punct", "=")
        op = ln.next("ident")
        operands, attrs, value = [], {}, None
        if op == CONSTANT:
            value = self._constant(ln, results)
        else:
            if ln.peek()[0] == "val":
                operands.append(self._use(ln))
                while ln.accept(","):
                    operands.append(self._use(ln))
            if ln.peek()[1] == "{":
                attrs = self._attrs(ln)
        ln.expect_end()
        body = self._kernel_body(graph) if op == KERNEL else None
        node = graph.add_node(op, operands, [t for _, t in results], attrs, ln.comment or "",
                              value, body, out_names=[n for n, _ in results])
        for (name, _), out in zip(results, node.outputs):
            self._define(ln, name, out)

    def _kernel_body(self, graph):
        ln = self.line()
        ln.next("ident", "body")
        ln.next("punct", "(")
        body = Graph(f"{graph.name}.body", graph.namer)
        outer, self.values = self.values, {}  # a body sees only its own params and nodes
        self._params(ln, body, labels=False)
        ln.next("punct", "{")
        ln.expect_end()
        self._nodes(body, "yield")
        self.values = outer
        return body

    def _attrs(self, ln):
        ln.next("punct", "{")
        attrs = {}
        if ln.accept("}"):
            return attrs
        while True:
            key = ln.next("ident")
            ln.next("punct", "=")
            attrs[key] = self._literal(ln)
            if ln.accept("}"):
                return attrs
            ln.next("punct", ",")

    def _literal(self, ln):
        kind, tok = ln.peek()
        if kind == "num":
            ln.next()
            return float(tok) if any(c in tok for c in ".eEin") else int(tok)
        if kind == "str":
            ln.next()
            return json.loads(tok)
        if kind == "ident" and tok in ("True", "False", "None"):
            ln.next()
            return {"True": True, "False": False, "None": None}[tok]
        if tok in ("(", "["):
            ln.next()
            close = ")" if tok == "(" else "]"
            items = []
            while not ln.accept(close):
                items.append(self._literal(ln))
                if not ln.accept(","):
                    ln.next("punct", close)
                    break
            return tuple(items) if tok == "(" else items
        ln.fail(f"expected a literal (number, string, True/False/None, tuple), found {tok!r}")

    def _constant(self, ln, results):
        if len(results) != 1:
            ln.fail("a constant has exactly one result")
        type_ = results[0][1]
        if ln.peek()[0] == "b64":
            raw = base64.b64decode(ln.next()[4:-1])
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
