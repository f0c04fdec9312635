"""The kinds of value: eager `Tensor`, `Variable`, and the symbolic `KerasTensor`.

Values and ops form the one import cycle of graphkit (Tensor operators call gk.ops, ops build
Tensors). Importing `graphkit.ops` first, from here, makes every entry point resolve it the
same way, whichever module a user or a test imports first.
"""
import graphkit.ops  # noqa: F401  (see above)
