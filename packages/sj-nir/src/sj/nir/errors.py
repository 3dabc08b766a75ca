"""Errors and warnings of sj-nir. Every message names the node (or module) it is about."""

from __future__ import annotations


class NIRError(ValueError):
    """A NIR graph cannot be exported or loaded faithfully (unsupported node, bad shape, implausible parameter)."""


class NIRSemanticsWarning(UserWarning):
    """The exported graph relies on semantics (in ``graph.metadata``) that a reader ignoring the metadata would get
    wrong, e.g. subtractive reset, or a producer profile was guessed."""


def node_error(name: str, node: object, problem: str) -> NIRError:
    """An error naming the node and its NIR type."""
    return NIRError(f"node {name!r} ({type(node).__name__}): {problem}")
