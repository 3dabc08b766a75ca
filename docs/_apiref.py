"""The API reference, discovered: every public module of the ``sj`` namespace package (every installed sj package),
grouped as SpikingJelly's reference is, each public name documented once.

*Public*: a module whose dotted path has no component starting with ``_``; in it, the names of its ``__all__``, or,
without ``__all__``, its top-level classes and functions defined there (not imported) and not starting with ``_``.

A class or function exported at several paths (``sj.ann2snn.Converter`` is ``sj.ann2snn.converter.Converter``) is
documented at the shortest one under its own name (what users import); the other modules link to it. A constant is
documented at the shortest path exporting it under its name, with the ``#:`` doc comment of the module that
assigns it.

Used by the ``sj-api`` directive (``docs/api/<group>.rst``: ``.. sj-api:: neuron`` expands to every module of the
group) and by the tests (``tests/docs/test_docs_api.py``). A new module is picked up without editing any list; a
module outside every group prefix lands in the ``other`` group.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import sys
import types
from dataclasses import dataclass, field

# group → module prefixes; a module belongs to the group of its longest matching prefix
GROUPS: dict[str, tuple[str, ...]] = {
    "neuron": ("sj.neuron", "sj.base", "sj.decl_registry"),
    "surrogate": ("sj.surrogate",),
    "layer": ("sj.layer", "sj.rnn", "sj.quantize"),
    "functional": ("sj.functional",),
    "encoding": ("sj.encoding",),
    "monitor": ("sj.monitor", "sj.visualizing"),
    "learning": ("sj.learning",),
    "model": ("sj.model", "sj.models"),
    "ann2snn": ("sj.ann2snn",),
    "training": ("sj.training", "sj.memopt"),
    "datasets": ("sj.datasets",),
    "nir": ("sj.nir",),
    "backends": ("sj.backends", "sj.ops", "sj.codegen", "sj.plugins", "sj.cache", "sj.cpu", "sj.triton", "sj.cupy"),
    "testing": ("sj.testing",),
    "other": (),
}


def group_of(module: str) -> str:
    """The group of ``module``: that of its longest matching prefix, ``'other'`` when none matches."""
    best, best_len = "other", -1
    for group, prefixes in GROUPS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = group, len(p)
    return best


def _is_public_path(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


@functools.cache
def discover() -> tuple[dict[str, types.ModuleType], dict[str, str]]:
    """Import every public module of the ``sj`` namespace. Returns ``(modules, unavailable)``: module name → module,
    and module name → why it cannot be imported here (a missing optional third-party dependency). Any other import
    error is raised: a module that does not import is a bug, not a gap in the reference."""
    import sj

    modules: dict[str, types.ModuleType] = {}
    unavailable: dict[str, str] = {}

    def missing_dependency(name: str, exc: BaseException) -> bool:
        root = (getattr(exc, "name", None) or "").split(".")[0]
        if isinstance(exc, ModuleNotFoundError) and root and root != "sj":
            unavailable[name] = f"needs {root!r}, which is not installed"
            return True
        return False

    def on_error(name: str) -> None:
        exc = sys.exc_info()[1]
        if exc is None or not missing_dependency(name, exc):
            raise ImportError(f"importing {name} while discovering the API reference failed") from exc

    for info in pkgutil.walk_packages(sj.__path__, "sj.", onerror=on_error):
        if not _is_public_path(info.name) or info.name in unavailable:
            continue
        try:
            modules[info.name] = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if not missing_dependency(info.name, exc):
                raise
    return dict(sorted(modules.items())), unavailable


def public_names(module: types.ModuleType) -> list[str]:
    """The public names of ``module`` (``__all__``, else its own top-level classes and functions); submodules listed
    in ``__all__`` are left out (they are documented as modules)."""
    exported = getattr(module, "__all__", None)
    if exported is None:
        return [n for n, obj in vars(module).items() if not n.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__]
    return [n for n in exported if not isinstance(getattr(module, n, None), types.ModuleType)]


def _is_code(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj)


@functools.cache
def attr_docs(module_name: str) -> dict[str, list[str]]:
    """``#:`` doc comments (and docstrings after assignments) of ``module_name``'s top-level names."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        found = ModuleAnalyzer.for_module(module_name).find_attr_docs()
    except Exception:  # no source (a compiled module): no attribute docs
        return {}
    return {name: list(lines) for (scope, name), lines in found.items() if scope == ""}


@dataclass
class Reference:
    """Where each public name is documented.

    ``documented[module]`` holds the names documented in ``module``'s section; ``elsewhere[module]`` maps its other
    public names to the full path where they are documented; ``undocumented`` lists the full paths of public names
    without a docstring (or, for a constant, without a ``#:`` comment in any module exporting it)."""

    documented: dict[str, list[str]] = field(default_factory=dict)
    elsewhere: dict[str, dict[str, str]] = field(default_factory=dict)
    undocumented: list[str] = field(default_factory=list)


def constant_doc(name: str, obj: object) -> list[str]:
    """The ``#:`` doc comment of a constant: from the first sj module (public or not) that binds ``name`` to ``obj``
    and documents it, usually the one that defines it."""
    for mod_name in sorted(m for m in sys.modules if m == "sj" or m.startswith("sj.")):
        if vars(sys.modules[mod_name]).get(name) is obj and name in attr_docs(mod_name):
            return attr_docs(mod_name)[name]
    return []


def _has_doc(name: str, obj: object) -> bool:
    if _is_code(obj):
        return bool((obj.__doc__ or "").strip())
    return bool(constant_doc(name, obj))


@functools.cache
def reference() -> Reference:
    """Decide, for every public name of every discovered module, where it is documented."""
    modules, _ = discover()
    exporters: dict[int, list[tuple[str, str]]] = {}  # id(object) → [(module, name)] that export it
    for mod_name, mod in modules.items():
        for name in public_names(mod):
            if hasattr(mod, name):
                exporters.setdefault(id(getattr(mod, name)), []).append((mod_name, name))

    def canonical(mod_name: str, name: str, obj: object) -> tuple[str, str]:
        candidates = exporters[id(obj)]
        if _is_code(obj):  # shortest path, under the object's own name (an alias would render as "alias of")
            own = getattr(obj, "__name__", name)
            return min(candidates, key=lambda c: (c[1] != own, c[0].count("."), c[0]))
        same = [c for c in candidates if c[1] == name]  # a constant: at the shortest path exporting it by that name
        return min(same, key=lambda c: (c[0].count("."), c[0]))

    ref = Reference()
    for mod_name, mod in modules.items():
        ref.documented[mod_name], ref.elsewhere[mod_name] = [], {}
        for name in public_names(mod):
            if not hasattr(mod, name):
                ref.undocumented.append(f"{mod_name}.{name} (in __all__ but not defined)")
                continue
            obj = getattr(mod, name)
            home = canonical(mod_name, name, obj)
            if home == (mod_name, name):
                ref.documented[mod_name].append(name)
                if not _has_doc(name, obj):
                    ref.undocumented.append(f"{mod_name}.{name}")
            else:
                ref.elsewhere[mod_name][name] = f"{home[0]}.{home[1]}"
        if not (mod.__doc__ or "").strip():
            ref.undocumented.append(f"{mod_name} (module docstring)")
    return ref


def _directive(obj: object) -> str:
    if inspect.isclass(obj):
        return "autoexception" if issubclass(obj, BaseException) else "autoclass"
    return "autofunction" if inspect.isroutine(obj) else "autodata"


def group_rst(group: str) -> list[str]:
    """reStructuredText for the modules of ``group``: a section per module, with its docstring, the names documented
    there, and links to the names it re-exports from elsewhere."""
    if group not in GROUPS:
        raise ValueError(f"unknown API group {group!r}; known: {', '.join(GROUPS)}")
    modules, unavailable = discover()
    ref = reference()
    documented_paths = {f"{m}.{n}" for m, names in ref.documented.items() for n in names}
    lines: list[str] = []
    for mod_name in sorted([*modules, *unavailable]):
        if group_of(mod_name) != group:
            continue
        lines += [mod_name, "-" * len(mod_name), ""]
        if mod_name in unavailable:
            lines += [f".. py:module:: {mod_name}", "", f"Not documented in this build: it {unavailable[mod_name]}.",
                      ""]
            continue
        mod = modules[mod_name]
        clash = mod_name in documented_paths  # a package exporting a function named like its submodule
        lines += [f".. automodule:: {mod_name}", "   :no-members:"] + (["   :no-index:"] if clash else []) + [""]
        lines += [f".. currentmodule:: {mod_name}", ""]
        for name in ref.documented[mod_name]:
            obj = getattr(mod, name)
            lines += [f".. {_directive(obj)}:: {name}"]
            if not _is_code(obj):  # a constant: its doc comment may live in the module that defines it
                lines += ["   :no-value:", ""]
                if name not in attr_docs(mod_name):
                    lines += [f"   {d}" for d in constant_doc(name, obj)]
            lines += [""]
        if ref.elsewhere[mod_name]:
            links = ", ".join(f":py:obj:`{name} <{path}>`" for name, path in sorted(ref.elsewhere[mod_name].items()))
            lines += [f".. rubric:: Also exported here: {links}", ""]
    return lines


def setup(app):
    """Sphinx extension: the ``sj-api`` directive (it expands to nothing with ``-D sj_api_reference=0``); the pages
    under ``api/`` are re-read on every build (a module added since the last build appears without touching them)."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class ApiGroup(SphinxDirective):
        required_arguments = 1

        def run(self) -> list[nodes.Node]:
            if not self.config.sj_api_reference:  # a quick build (e.g. the test suite's second language)
                return []
            self.env.note_dependency(__file__)
            content = StringList(group_rst(self.arguments[0]), source=f"<sj-api {self.arguments[0]}>")
            container = nodes.section()
            container.document = self.state.document
            nested_parse_with_titles(self.state, content, container)
            return container.children

    def drop_type_docstring(app, what, name, obj, options, lines: list[str]) -> None:
        # a constant without a doc comment of its own would show its type's docstring (dict's, a dataclass's)
        if what in ("data", "attribute") and not _is_code(obj) and type(obj).__doc__ and \
                "\n".join(lines).strip() == inspect.cleandoc(type(obj).__doc__).strip():
            lines.clear()

    def skip_foreign_members(app, what, name, obj, skip, options) -> bool | None:
        # a class attribute bound to another library's function (``fn = staticmethod(torch.mul)``) is not sj's API
        if what in ("class", "exception") and inspect.isroutine(obj) and \
                not (getattr(obj, "__module__", None) or "").startswith("sj"):
            return True
        return None

    def always_reread(app, env, added, changed, removed) -> list[str]:
        return [doc for doc in env.found_docs if doc.startswith("api/") and doc not in removed]

    app.add_config_value("sj_api_reference", True, "env")
    app.add_directive("sj-api", ApiGroup)
    app.connect("env-get-outdated", always_reread)
    app.connect("autodoc-process-docstring", drop_type_docstring)
    app.connect("autodoc-skip-member", skip_foreign_members)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
