"""The docs build in both languages with warnings as errors; the built API reference holds every public name.

The English build is the full site: the API reference and every page, whose code runs during the build (results are
shared with tests/core_surface/test_surface_docs.py through docs/_pagecode.py's cache, so each page runs once per
test run). The Chinese build checks what the language adds (every message translated, the translated markup builds)
and leaves out the API reference, whose docstrings are not translated and which the English build covers.
"""

import posixpath
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))


def _build(out: Path, *options: str) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", *options, "docs", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]


def _switch_targets(html: str) -> list[str]:
    start = html.index('class="sj-lang"')
    return [part.split('"')[0] for part in html[start:html.index("</div>", start)].split('href="')[1:]]


def test_docs_build_in_english_with_every_public_name(tmp_path):
    import _apiref
    from sphinx.util.inventory import InventoryFile

    out = tmp_path / "en"
    _build(out)
    with open(out / "objects.inv", "rb") as fh:
        inventory = InventoryFile.load(fh, "", posixpath.join)
    documented = {name for kind, entries in inventory.items() if kind.startswith("py:") for name in entries}
    ref = _apiref.reference()
    modules, _ = _apiref.discover()
    missing = [f"{m}.{n}" for m in modules for n in _apiref.public_names(modules[m])
               if f"{m}.{n}" not in documented and ref.elsewhere[m].get(n) not in documented]
    assert not missing, f"{len(missing)} public name(s) missing from the built reference:\n  " + "\n  ".join(missing)
    page = (out / "getting_started.html").read_text(encoding="utf-8")
    assert _switch_targets(page) == ["../zh_CN/getting_started.html"]


def test_docs_build_in_chinese(tmp_path):
    out = tmp_path / "zh_CN"
    _build(out, "-D", "language=zh_CN", "-D", "sj_api_reference=0")
    page = (out / "getting_started.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in page or 'lang="zh_CN"' in page
    assert _switch_targets(page) == ["../en/getting_started.html"]
