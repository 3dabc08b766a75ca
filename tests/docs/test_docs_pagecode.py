"""docs/_pagecode.py: how a page's code runs (shared namespace, output and figures captured, failures located on the
page, optional needs) and the cache that lets the test suite and the docs build run each page once."""

import os
import sys
import traceback
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs"))

import _pagecode


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_blocks_share_a_namespace_and_their_output_and_figures_are_kept(tmp_path):
    page = _page(tmp_path, """# A page

```python
x = 20
print("x is", x)
```

- a list with a nested block

  ```python
  import matplotlib.pyplot as plt
  plt.plot([0, x])
  ```

```text
not python: not run
```
""")
    blocks = _pagecode.page_blocks(page.read_text())
    assert [b.line for b in blocks] == [3, 10]
    result = _pagecode.run_page(page)
    assert result.stopped is None
    assert result.blocks[0].stdout == "x is 20\n" and result.blocks[0].figures == []
    assert result.blocks[1].stdout == "" and len(result.blocks[1].figures) == 1
    assert result.blocks[1].figures[0].startswith("iVBORw0KGgo")  # base64 of the PNG signature


def test_a_failing_block_names_the_page_line_and_its_traceback_points_at_the_page(tmp_path):
    page = _page(tmp_path, "intro\n\n```python\na = 1\nb = a / 0\n```\n")
    with pytest.raises(_pagecode.PageCodeError, match=r"page\.md:3: the python block at line 3 raised "
                                                      r"ZeroDivisionError") as info:
        _pagecode.run_page(page)
    frames = traceback.extract_tb(info.value.__cause__.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (str(page.resolve()), 5)


def test_a_block_needing_something_missing_stops_the_page_there_with_the_reason(tmp_path):
    page = _page(tmp_path, "```python\nprint('ran')\n```\n\n% exec-needs: sj_no_such_module\n```python\nraise "
                           "SystemExit\n```\n\n```python\nraise SystemExit\n```\n")
    assert _pagecode.page_blocks(page.read_text())[1].needs == ("sj_no_such_module",)
    result = _pagecode.run_page(page)
    assert [b.stdout for b in result.blocks] == ["ran\n"]
    assert result.stopped == "the block at line 6 and those after it need the 'sj_no_such_module' module"


def test_pages_run_in_a_scratch_directory_with_one_thread(tmp_path):
    import torch

    threads = torch.get_num_threads()
    page = _page(tmp_path, "```python\nimport os, torch\nopen('out.txt', 'w').write('x')\nprint(os.getcwd(), "
                           "torch.get_num_threads())\n```\n")
    cwd, n = _pagecode.run_page(page).blocks[0].stdout.split()
    assert Path(cwd) != Path.cwd() and not Path(cwd).exists() and n == "1"
    assert not (tmp_path / "out.txt").exists() and torch.get_num_threads() == threads


def test_the_cache_runs_a_page_once_until_its_code_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_DOCS_EXEC_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs.txt"
    code = f"```python\nopen({str(runs)!r}, 'a').write('run\\n')\nprint('hello')\n```\n"
    page = _page(tmp_path, code)
    first = _pagecode.run_page_cached(page)
    second = _pagecode.run_page_cached(page)
    assert runs.read_text() == "run\n" and first == second and second.blocks[0].stdout == "hello\n"
    page.write_text(code.replace("hello", "changed"), encoding="utf-8")
    assert _pagecode.run_page_cached(page).blocks[0].stdout == "changed\n" and runs.read_text() == "run\nrun\n"


def test_a_failure_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_DOCS_EXEC_CACHE", str(tmp_path / "cache"))
    page = _page(tmp_path, "```python\nraise ValueError('no')\n```\n")
    for _ in range(2):
        with pytest.raises(_pagecode.PageCodeError):
            _pagecode.run_page_cached(page)
    assert not list((tmp_path / "cache").glob("*.json"))


def test_pages_leave_out_build_output_and_catalogs():
    found = [p.relative_to(_pagecode.DOCS).parts for p in _pagecode.pages()]
    assert found and not any(set(parts) & {"_build", "locales", "_templates", "_static"} for parts in found)
    assert ("tutorials", "index.md") in found and os.sep not in "".join(found[0])
