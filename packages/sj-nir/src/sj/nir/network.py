"""The module a NIR graph loads into: its nodes as sj modules, run in graph order; cycles carry one step of delay.

Edges into a node are summed (NIR's semantics). An edge that closes a cycle (found by a depth-first search from the
input nodes, edges taken in the graph's order) carries the source's output of the *previous* step (zero at the first
step), which is how recurrent connections run on discrete time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from sj.base import MemoryModule, StepModeError, StepModule
from sj.nir.errors import NIRGraphError


def _order(names: Sequence[str], edges: Sequence[tuple[str, str]], inputs: Sequence[str]
           ) -> tuple[list[str], set[tuple[str, str]]]:
    """Topological order of ``names`` ignoring back edges, and the back edges (iterative DFS, deterministic)."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on stack, 2 done
    post: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in [*inputs, *sorted(names)]:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


def _key(name: str, taken: set[str]) -> str:
    key = re.sub(r"\W", "_", name) or "node"
    key = f"n_{key}" if key[0].isdigit() else key
    base, i = key, 1
    while key in taken:
        key, i = f"{base}_{i}", i + 1
    taken.add(key)
    return key


class NIRNet(MemoryModule):
    """A loaded NIR graph. Call it with one tensor per input node (sorted by name): ``[N, *]`` in ``'s'`` mode,
    ``[T, N, *]`` in ``'m'`` mode; it returns one tensor per output node (a tuple when there are several).

    Attributes:
        node_names: NIR node names in evaluation order; ``module_for(name)`` gives a node's module (``None`` for
            inputs and outputs).
        inputs, outputs: the input and output node names.
        back_edges: the edges that close cycles (one step of delay).
    """

    def __init__(self, modules: dict[str, nn.Module | None], edges: Iterable[tuple[str, str]],
                 inputs: Sequence[str], outputs: Sequence[str], step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.edges = [tuple(e) for e in edges]
        self.inputs, self.outputs = list(inputs), list(outputs)
        if not self.inputs or not self.outputs:
            raise NIRGraphError(f"the graph needs at least one Input and one Output node (inputs {self.inputs}, "
                           f"outputs {self.outputs})")
        self.node_names, back = _order(list(modules), self.edges, self.inputs)
        self.back_edges = sorted(back)
        taken: set[str] = set()
        self._keys = {name: _key(name, taken) for name in modules}  # unique identifiers, one per node
        self.nodes = nn.ModuleDict({self._keys[n]: m for n, m in modules.items() if m is not None})
        self._preds: dict[str, list[tuple[str, bool]]] = {n: [] for n in self.node_names}
        for a, b in self.edges:  # one pass: linear in the number of edges
            self._preds[b].append((a, (a, b) in back))
        for name in self.node_names:
            if name not in self.inputs and not self._preds[name]:
                raise NIRGraphError(f"node {name!r} has no incoming edge, so nothing drives it")
        self._fed_back = sorted({a for a, _ in back})
        for name in self._fed_back:
            self.register_memory(self._memory_name(name), None)

    def _memory_name(self, name: str) -> str:
        """The memory holding node ``name``'s previous output: from its unique key, so ``a.b`` and ``a_b`` differ."""
        return "fb_" + self._keys[name]

    def module_for(self, name: str) -> nn.Module | None:
        """The module of NIR node ``name`` (``None`` for Input/Output nodes)."""
        key = self._keys[name]
        return self.nodes[key] if key in self.nodes else None

    def _check_args(self, xs: Sequence[torch.Tensor]) -> None:
        if len(xs) != len(self.inputs):
            raise TypeError(f"NIRNet takes one tensor per input node {self.inputs}, got {len(xs)}")

    def _run(self, xs: Sequence[torch.Tensor], feedback: bool):
        values: dict[str, torch.Tensor] = dict(zip(self.inputs, xs))
        for name in self.node_names:
            if name in values:
                continue
            terms = []
            for src, is_back in self._preds[name]:
                t = getattr(self, self._memory_name(src)) if is_back else values[src]
                if t is not None:
                    terms.append(t)
            if not terms:
                raise NIRGraphError(f"node {name!r} is driven only by feedback, which is empty at the first step")
            x = terms[0]
            for t in terms[1:]:
                if t.shape != x.shape:
                    raise NIRGraphError(f"node {name!r}: incoming edges carry shapes {tuple(x.shape)} and "
                                   f"{tuple(t.shape)}, which cannot be summed")
                x = x + t
            module = self.module_for(name)
            try:
                values[name] = x if module is None else module(x)
            except RuntimeError as exc:
                if type(exc) is not RuntimeError:  # out of memory, sj's state errors: not the graph's shapes
                    raise
                raise NIRGraphError(f"node {name!r} ({type(module).__name__}) cannot run on its input of shape "
                                    f"{tuple(x.shape)}: {exc}") from exc
        if feedback:
            for name in self._fed_back:
                setattr(self, self._memory_name(name), values[name])
        out = tuple(values[o] for o in self.outputs)
        return out[0] if len(out) == 1 else out

    def single_step_forward(self, *xs: torch.Tensor):
        self._check_args(xs)
        return self._run(xs, feedback=True)

    def multi_step_forward(self, *xs: torch.Tensor):
        self._check_args(xs)
        for x in xs:
            if not isinstance(x, torch.Tensor) or x.dim() < 2:
                raise StepModeError(f"NIRNet in step_mode='m' needs inputs [T, N, *], got "
                                    f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        if not self.back_edges:
            return self._run(xs, feedback=False)
        # A cycle needs step t's output before step t+1: run the children one step at a time.
        children = [m for m in self.nodes.modules() if isinstance(m, StepModule) and m is not self.nodes]
        modes = [m.step_mode for m in children]
        try:
            for m in children:
                m.step_mode = "s"
            steps = [self._run([x[t] for x in xs], feedback=True) for t in range(xs[0].shape[0])]
        finally:
            for m, mode in zip(children, modes):
                m.step_mode = mode
        if isinstance(steps[0], tuple):
            return tuple(torch.stack(s) for s in zip(*steps))
        return torch.stack(steps)

    def extra_repr(self) -> str:
        return f"inputs={self.inputs}, outputs={self.outputs}, back_edges={self.back_edges}, step_mode={self.step_mode}"
