"""The docs extension's translation check (docs/_sjdocs.py), on a two-paragraph site: a message without a
translation fails a -W build in that language and names the message; a complete catalog, or the page listed as
pending, builds."""

import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Hello world"
msgstr "你好，世界"

msgid "A paragraph of prose."
msgstr "{second}"
'''


def _site(tmp_path: Path, second: str, pending: str = "") -> Path:
    src = tmp_path / "src"
    (src / "locales" / "zh_CN" / "LC_MESSAGES").mkdir(parents=True)
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(DOCS)!r})\nextensions = ['myst_parser', "
                                 "'_sjdocs']\nlocale_dirs = ['locales/']\ngettext_compact = False\n", encoding="utf-8")
    (src / "index.md").write_text("# Hello world\n\nA paragraph of prose.\n\n`code_only_cell`\n", encoding="utf-8")
    (src / "locales" / "zh_CN" / "LC_MESSAGES" / "index.po").write_text(PO.format(second=second), encoding="utf-8")
    (src / "locales" / "zh_CN" / "pending.txt").write_text(pending, encoding="utf-8")
    return src


def _build(src: Path, out: Path, capsys) -> tuple[int, str]:
    import sphinx.locale
    from sphinx.cmd.build import build_main

    sphinx.locale.translators.clear()  # catalogs are cached per process: this test builds several sites in one
    code = build_main(["-W", "-q", "-E", "-b", "html", "-D", "language=zh_CN", str(src), str(out)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("second, pending, ok", [("一段文字。", "", True), ("", "", False), ("", "index\n", True)],
                         ids=["complete", "untranslated", "pending"])
def test_translation_check(tmp_path, capsys, second, pending, ok):
    src = _site(tmp_path, second, pending)
    code, err = _build(src, tmp_path / "out", capsys)
    if ok:
        assert code == 0, err
        html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
        assert "你好，世界" in html
    else:
        assert code != 0 and "1 message(s) of this page have no zh_CN translation" in err, err
        assert "A paragraph of prose." in err and "code_only_cell" not in err
    shutil.rmtree(src)


def test_generated_api_text_needs_no_translation(tmp_path, capsys):
    """An autodoc description on a page (its docstring and the field labels autodoc and napoleon add, which Sphinx
    translates itself) is not the page's prose: only the heading needs a catalog entry."""
    src = _site(tmp_path, "一段文字。")
    (src / "tinymod.py").write_text('def double(x: int) -> int:\n    """Twice ``x``.\n\n    Args:\n        x: a '
                                    'number.\n\n    Returns:\n        the double.\n    """\n    return 2 * x\n',
                                    encoding="utf-8")
    conf = src / "conf.py"
    conf.write_text(conf.read_text(encoding="utf-8").replace("'_sjdocs']", "'_sjdocs', 'sphinx.ext.autodoc', "
                                                             "'sphinx.ext.napoleon']")
                    + f"sys.path.insert(0, {str(src)!r})\nautodoc_typehints = 'description'\n", encoding="utf-8")
    (src / "index.md").write_text("# Hello world\n\nA paragraph of prose.\n\n```{eval-rst}\n.. autofunction:: "
                                  "tinymod.double\n```\n", encoding="utf-8")
    code, err = _build(src, tmp_path / "out", capsys)
    assert code == 0, err
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "你好，世界" in html and "返回类型" in html and "Twice" in html
    shutil.rmtree(src)
