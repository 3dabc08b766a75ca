"""Errors and warnings of sj-nir. Every message names the node, module, file object or limit it is about.

All errors derive from :class:`NIRError` (a ``ValueError``), so ``except sj.nir.NIRError`` catches every refusal;
the subclasses say what kind of problem it is. Names that come from a file are shown escaped (:func:`shown`), so a
node name cannot inject terminal control sequences into a message.
"""

from __future__ import annotations


class NIRError(ValueError):
    """A NIR graph cannot be exported or loaded faithfully."""


class NIRFileError(NIRError):
    """The file is not a well-formed NIR file: not HDF5, a node type NIR does not define, a malformed field."""


class NIRUnsafeFileError(NIRFileError):
    """The file asks the reader to read data from outside itself (HDF5 external storage, virtual datasets, soft or
    external links) or is not a tree (one object reachable by two paths). Refused before any data is read."""


class NIRLimitError(NIRError):
    """A declared size (bytes of a dataset, node count, nesting depth, elements of a node's state) exceeds a limit
    of :class:`sj.nir.Limits`. Refused before anything of that size is allocated."""


class NIRUnsupportedError(NIRError):
    """Valid NIR that sj cannot load (a node type) or an sj module that NIR cannot express."""


class NIRGraphError(NIRError):
    """The graph's structure is inconsistent: an edge to a missing node, shapes that disagree along an edge, node
    names that collide when subgraphs are flattened."""


class NIRParameterError(NIRError):
    """A parameter is non-finite, has the wrong shape, or is implausible for the conventions (τ < dt, ...)."""


class NIRSemanticsWarning(UserWarning):
    """The exported graph relies on semantics (in ``graph.metadata``) that a reader ignoring the metadata would get
    wrong, e.g. subtractive reset, or a producer profile was guessed."""


def shown(text: object) -> str:
    """``text`` with every non-printable character (terminal escapes, bidi overrides, newlines) escaped, no quotes."""
    s = str(text)
    return s if s.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def node_error(name: str, node: object, problem: str, kind: type[NIRError] = NIRParameterError) -> NIRError:
    """An error of class ``kind`` naming the node and its NIR type."""
    return kind(f"node {name!r} ({type(node).__name__}): {problem}")
