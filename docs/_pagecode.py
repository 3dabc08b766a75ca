"""Run the code of a docs page: its ```` ```python ```` blocks, in order, in one fresh namespace, in a scratch
directory. The test suite runs every page with it (``tests/core_surface/test_surface_docs.py``) and the docs build
shows what each block printed and the figures it drew (``_sjdocs.py``), from one cache: a page whose code and sj
sources are unchanged runs once, whichever asks first.

A block that needs something optional says so on the line right before its fence, as a MyST comment::

    % exec-needs: cuda cupy

(``cuda``: a CUDA device; any other word: an importable module.) Where a need is missing, that block and the rest of
the page do not run, and the result says why; everything before it still runs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import types
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
_NEEDS = re.compile(r"^%\s*exec-needs:\s*(.*)$")
_VERSION = "1"  # bump when what a result holds changes
FIGURE_DPI = 90


@dataclass(frozen=True)
class Block:
    """One ```` ```python ```` fence: its code, the page line of the fence, and what it needs."""

    code: str
    line: int
    needs: tuple[str, ...] = ()


@dataclass
class BlockResult:
    """What one block printed, and the figures it left open (PNG, base64)."""

    stdout: str = ""
    figures: list[str] = field(default_factory=list)


@dataclass
class PageResult:
    """The results of the blocks that ran (in page order), and why the rest did not (``None``: every block ran)."""

    blocks: list[BlockResult]
    stopped: str | None = None


class PageCodeError(RuntimeError):
    """A block of a page raised: ``path`` and ``line`` (of the block's fence) say where, the cause is the original
    exception (its traceback shows the page's own line numbers)."""

    def __init__(self, path: Path, line: int, exc: BaseException) -> None:
        self.path, self.line = path, line
        self.summary = f"the python block at line {line} raised {type(exc).__name__}: {exc}"
        super().__init__(f"{path}:{line}: {self.summary}")


def pages(docs: Path = DOCS) -> list[Path]:
    """Every Markdown page of the docs (not the build output, templates, static files or catalogs)."""
    skip = {"_build", "_static", "_templates", "locales"}
    return sorted(p for p in docs.rglob("*.md") if not skip & set(p.relative_to(docs).parts))


def page_blocks(text: str) -> list[Block]:
    """The python fences of a Markdown page, wherever they are (top level, lists, quotes)."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    blocks = []
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type == "fence" and tok.info.strip() == "python" and tok.map:
            start = tok.map[0]
            marker = _NEEDS.match(lines[start - 1].strip()) if start > 0 else None
            blocks.append(Block(tok.content, start + 1, tuple(marker.group(1).split()) if marker else ()))
    return blocks


def missing(needs: tuple[str, ...]) -> str | None:
    """Why ``needs`` are not met here (``None`` when they are)."""
    absent = []
    for need in needs:
        if need == "cuda":
            import torch

            if not torch.cuda.is_available():
                absent.append("a CUDA device")
        elif importlib.util.find_spec(need) is None:
            absent.append(f"the {need!r} module")
    return " and ".join(absent) or None


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


@contextlib.contextmanager
def _scratch(name: str) -> Iterator[types.ModuleType]:
    """A fresh module registered in ``sys.modules`` (classes defined on the page pickle), run in a temporary
    directory, with a fixed seed, one intra-op thread and no figure left over from before."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import torch

    plt.close("all")
    module = types.ModuleType(name)
    sys.modules[name] = module
    cwd, threads = os.getcwd(), torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="sj-docs-") as tmp:
        os.chdir(tmp)
        torch.manual_seed(0)
        # the pages' tensors are tiny: one intra-op thread is as fast, and several threads spin-waiting on a
        # shared machine (CI runs the tests on every core) cost ten times the CPU time
        torch.set_num_threads(1)
        try:
            yield module
        finally:
            torch.set_num_threads(threads)
            os.chdir(cwd)
            sys.modules.pop(name, None)
            plt.close("all")


def _name(path: Path) -> str:
    """The page's path relative to the docs (its file name for a page elsewhere), without the suffix."""
    path = path.resolve()
    return (path.relative_to(DOCS) if path.is_relative_to(DOCS) else Path(path.name)).with_suffix("").as_posix()


def run_page(path: Path) -> PageResult:
    """Run the blocks of ``path``. Raises :class:`PageCodeError` (tracebacks point at the page's own lines)."""
    import matplotlib.pyplot as plt

    path = Path(path).resolve()  # the page runs in a scratch directory
    result = PageResult([])
    with _scratch("sj_docs_page_" + re.sub(r"\W", "_", _name(path))) as module:
        for block in page_blocks(path.read_text(encoding="utf-8")):
            why = missing(block.needs)
            if why:
                result.stopped = f"the block at line {block.line} and those after it need {why}"
                break
            out = io.StringIO()
            code = compile("\n" * block.line + block.code, str(path), "exec")  # line numbers are the page's
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, module.__dict__)
            except BaseException as exc:
                raise PageCodeError(path, block.line, exc) from exc
            figures = [_png(plt.figure(n)) for n in plt.get_fignums()]
            plt.close("all")
            result.blocks.append(BlockResult(out.getvalue(), figures))
    return result



@functools.cache
def _sources_stamp() -> str:
    """Path, size and mtime of every source file of the installed sj packages: editing sj reruns the pages."""
    import sj

    h = hashlib.sha256()
    for root in sorted(sj.__path__):
        for p in sorted(Path(root).rglob("*.py")):
            st = p.stat()
            h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_dir() -> Path:
    """``$SJ_DOCS_EXEC_CACHE``, else ``docs-exec`` in sj's cache (``$SJ_CACHE_DIR`` or ``~/.cache/sj``)."""
    env = os.environ.get("SJ_DOCS_EXEC_CACHE")
    if env:
        Path(env).mkdir(parents=True, exist_ok=True)
        return Path(env)
    from sj.cache import private_dir

    return private_dir("docs-exec")


def _key(path: Path) -> str:
    blocks = page_blocks(path.read_text(encoding="utf-8"))
    facts = [_VERSION, str(path.resolve()), _sources_stamp(),
             [(b.code, b.needs, missing(b.needs)) for b in blocks]]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no lock; two runs of one page at once both run it
        yield
        return
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load(entry: Path) -> PageResult:
    raw = json.loads(entry.read_text(encoding="utf-8"))
    return PageResult([BlockResult(**b) for b in raw["blocks"]], raw["stopped"])


def run_page_cached(path: Path) -> PageResult:
    """:func:`run_page`, or its stored result when the page's code, its needs' availability and the sj sources are
    unchanged. A page being run by another process is waited for, not run twice. Failures are not stored."""
    root = cache_dir()
    key = _key(path)
    entry = root / f"{key}.json"
    if not entry.exists():
        with _locked(root / f"{key}.lock"):
            if not entry.exists():
                result = run_page(path)
                tmp = entry.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(asdict(result)), encoding="utf-8")
                os.replace(tmp, entry)
                return result
    return _load(entry)
