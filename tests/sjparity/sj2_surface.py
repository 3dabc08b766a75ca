"""SpikingJelly 2.0.0's public names per module, read from its source with ``ast`` (never imported).

A module's public names are its ``__all__`` where it has one; otherwise the names it re-exports from its own
submodules (``from .x import *`` follows ``x``'s public names, ``from .x import a, b`` adds ``a, b``) and the
classes and functions it defines without a leading underscore. ``python tests/sjparity/sj2_surface.py [SJ_ROOT]``
rewrites ``sj2_public_names.json`` beside this file from an installed (or unpacked) ``spikingjelly`` package, so the
surface check runs without SpikingJelly installed; ``--coverage`` prints which names sj has at the mirrored paths.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "sj2_public_names.json"

# SpikingJelly module (dotted, below ``spikingjelly``) → the sj module that mirrors it.
MODULES: dict[str, str] = {
    **{f"activation_based.{m}": f"sj.{m}" for m in (
        "neuron", "layer", "functional", "surrogate", "base", "rnn", "quantize", "learning", "learning.plasticity",
        "learning.online_learning", "op_counter", "memopt", "ann2snn", "encoding", "monitor", "nir_exchange",
        "lava_exchange")},
    **{f"activation_based.model.{m}": f"sj.model.{m}" for m in (
        "spiking_resnet", "sew_resnet", "spiking_vgg", "parametric_lif_net", "spikformer",
        "spike_driven_transformer", "qkformer", "maxformer", "ms_resnet", "masnn", "snas_net", "spike_dhs",
        "spiking_vggws_ottt")},
    "datasets": "sj.datasets",
    "visualizing": "sj.visualizing",
}


def _module_file(root: Path, dotted: str) -> Path:
    path = root.joinpath(*dotted.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _literal_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            try:
                return [str(n) for n in ast.literal_eval(node.value)]
            except ValueError:
                return None
    return None


def public_names(root: Path, dotted: str, _seen: frozenset = frozenset()) -> list[str]:
    """Public names of ``spikingjelly.<dotted>`` under the package directory ``root`` (``.../spikingjelly``)."""
    path = _module_file(root, dotted)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    explicit = _literal_all(tree)
    if explicit is not None:
        return sorted(set(explicit))
    package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                if alias.name == "*":
                    if target not in _seen:
                        names.update(public_names(root, target, _seen | {dotted}))
                elif not (alias.asname or alias.name).startswith("_"):
                    names.add(alias.asname or alias.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            names.add(node.name)
    return sorted(names)


def snapshot(sj_root: Path) -> dict[str, dict]:
    """``{spikingjelly module: {"sj": mirror module, "names": [...]}}`` for every module in :data:`MODULES`."""
    out = {}
    for dotted, mirror in MODULES.items():
        if _module_file(sj_root, dotted).exists():
            out[dotted] = {"sj": mirror, "names": public_names(sj_root, dotted)}
    return out


def coverage(data: dict[str, dict] | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """``{spikingjelly module: (names present at the sj mirror, names absent)}``; a mirror that does not import
    counts every name absent."""
    import importlib

    data = data if data is not None else json.loads(SNAPSHOT.read_text())
    out = {}
    for dotted, entry in data.items():
        try:
            mod = importlib.import_module(entry["sj"])
        except ImportError:
            mod = None
        present = [n for n in entry["names"] if mod is not None and hasattr(mod, n)]
        out[dotted] = (present, [n for n in entry["names"] if n not in present])
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--coverage"]:
        for dotted, (present, absent) in coverage().items():
            print(f"{dotted:48s} {len(present):3d}/{len(present) + len(absent):3d}  absent: {' '.join(absent)}")
        return 0
    if argv:
        root = Path(argv[0])
    else:
        import importlib.util

        spec = importlib.util.find_spec("spikingjelly")
        if spec is None or spec.origin is None:
            print("spikingjelly is not installed; pass the path of its package directory", file=sys.stderr)
            return 2
        root = Path(spec.origin).parent
    data = snapshot(root)
    SNAPSHOT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{SNAPSHOT}: {sum(len(v['names']) for v in data.values())} names in {len(data)} modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
