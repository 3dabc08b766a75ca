"""The python blocks of docs/op_counter.md and docs/memopt.md run (blocks of a page share a namespace, in order)."""

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", ["op_counter", "memopt"])
def test_page_is_in_the_index_and_its_code_runs(page, tmp_path):
    assert f"\n{page}\n" in (DOCS / "index.md").read_text()
    blocks = BLOCK.findall((DOCS / f"{page}.md").read_text())
    assert blocks
    namespace: dict = {"__name__": f"docs_{page}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOCS / page}.md[block {i}]", "exec"), namespace)
    finally:
        os.chdir(cwd)
