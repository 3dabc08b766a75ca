"""The README's ```python blocks run as written (in order, one namespace), like every docs page's."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))

from _pagecode import run_page  # noqa: E402


def test_readme_code_runs():
    result = run_page(ROOT / "README.md")
    assert len(result.blocks) == 2 and result.stopped is None, result.stopped
