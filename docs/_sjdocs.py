"""Sphinx extension of the sj docs: executed pages, translations, the language switch.

* Every ```` ```python ```` block written in a page runs when the page is read (``_pagecode.run_page_cached``, shared
  with the test suite): what it printed and the figures it drew appear under it. A block that raises, or a python
  block that did not run (not a plain fence, e.g. inside a directive), is a warning, hence an error under ``-W``.
* Only the pages' own prose is translated: text that comes from docstrings or generated reStructuredText (the API
  reference), code, math, and text without a word outside code (numbers, code names) are left out of the gettext
  catalogs. In a build for another language every message of a page must have a translation in its catalog
  (``docs/locales/<lang>/LC_MESSAGES/<page>.po``; empty and fuzzy entries do not count): a missing one is a warning
  naming the page and the message, unless the page is listed in ``docs/locales/<lang>/pending.txt``.
* A language switch (``sidebar/lang.html``) links each page to the same page in the other builds, which live side by
  side: ``<root>/en/...`` and ``<root>/zh_CN/...``.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

from _pagecode import PageCodeError, page_blocks, run_page_cached
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.nodes import extract_messages

logger = logging.getLogger(__name__)


def _insert_outputs(app, doctree: nodes.document) -> None:
    if app.builder.name == "gettext":  # catalogs hold the pages' text, not their outputs
        return
    source = Path(doctree["source"])
    if source.suffix != ".md":
        return
    docname = app.env.docname
    blocks = page_blocks(source.read_text(encoding="utf-8"))
    try:
        result = run_page_cached(source) if blocks else None
    except PageCodeError as exc:
        tb = "".join(traceback.format_exception(exc.__cause__)[-12:])
        logger.warning("%s\n%s", exc.summary, tb, location=(docname, exc.line), type="sj", subtype="exec")
        return
    written = [n for n in doctree.findall(nodes.literal_block)
               if n.get("language") == "python" and n.source == str(source)]
    i = 0
    for node in written:
        if i < len(blocks) and node.astext().rstrip() == blocks[i].code.rstrip():
            if result is not None and i < len(result.blocks):
                _attach(node, result.blocks[i])
            i += 1
        else:
            logger.warning("this python block is not run (only plain ```python fences are); write it as a plain "
                           "fence, or use another language tag for code that is not python",
                           location=node, type="sj", subtype="exec")
    if result is not None and result.stopped:
        logger.info("%s: not run in this build: %s", docname, result.stopped)


def _attach(node: nodes.literal_block, out) -> None:
    extra: list[nodes.Node] = []
    if out.stdout.strip():
        extra.append(nodes.literal_block(out.stdout, out.stdout.rstrip("\n"), language="none",
                                         classes=["sj-output"]))
    for k, png in enumerate(out.figures):
        uri = "data:image/png;base64," + png
        extra.append(nodes.image(uri=uri, candidates={"?": uri}, alt=f"figure {k + 1} drawn by the code above",
                                 classes=["sj-figure"]))
    parent = node.parent
    index = parent.index(node)
    for offset, new in enumerate(extra, start=1):
        parent.insert(index + offset, new)


_WORD = re.compile(r"[^\W\d_]{3,}")


def _has_words(node: nodes.TextElement) -> bool:
    """Whether ``node`` holds a word (three letters or more) outside code and math."""
    if isinstance(node, (nodes.math_block, nodes.literal_block)):
        return False
    text = "".join(t.astext() for t in node.findall(nodes.Text)
                   if not any(isinstance(a, (nodes.literal, nodes.math)) for a in _ancestors(t, node)))
    return bool(_WORD.search(text))


def _ancestors(node: nodes.Node, stop: nodes.Node):
    while node is not stop and node is not None:
        node = node.parent
        yield node


class KeepForeignTextUntranslated(SphinxTransform):
    """Leave out of translation what is not the page's own prose: text from elsewhere (docstrings, the generated API
    sections) and text without a word outside code and math (numbers, table cells of code names), before the
    gettext builder extracts messages or a translation replaces them."""

    default_priority = 15  # before sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs) -> None:
        own = self.document["source"]
        for node in self.document.findall(nodes.TextElement):
            if (node.source and node.source != own) or not _has_words(node):
                node["translatable"] = False
        # an object description (autodoc) is generated, field labels ("Parameters", "Return type") included: Sphinx
        # translates those labels itself
        for desc in self.document.findall(addnodes.desc):
            for node in desc.findall(nodes.TextElement):
                node["translatable"] = False


def pending_translation(srcdir: Path, lang: str) -> set[str]:
    """Pages whose translation to ``lang`` is not done yet: ``locales/<lang>/pending.txt``, one page (docname) per
    line, ``#`` comments. They build in English where untranslated; every other page must be complete."""
    listed = srcdir / "locales" / lang / "pending.txt"
    if not listed.exists():
        return set()
    lines = (line.split("#")[0].strip() for line in listed.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


class RequireTranslations(SphinxTransform):
    """In a build for another language, every message of the page must have a translation in its catalog (checked
    just before sphinx.transforms.i18n.Locale looks the same messages up)."""

    default_priority = 19

    def apply(self, **kwargs) -> None:
        lang = self.config.language
        if not lang or lang == "en" or not self.config.sj_require_translations:
            return
        if self.env.docname in pending_translation(Path(self.env.srcdir), lang):
            logger.info("%s: translation to %s pending (listed in locales/%s/pending.txt)", self.env.docname, lang,
                        lang)
            return
        catalog = _catalog(self.env, lang)
        untranslated = [msg for _, msg in extract_messages(self.document) if not catalog.get(msg, "").strip()]
        if untranslated:
            shown = "\n".join(f"  {m[:100]!r}" for m in untranslated[:10])
            more = f"\n  ... and {len(untranslated) - 10} more" if len(untranslated) > 10 else ""
            logger.warning("%d message(s) of this page have no %s translation (update the catalogs with `hatch run "
                           "docs:update-po`, then translate the empty or fuzzy entries):\n%s%s", len(untranslated),
                           lang, shown, more, location=self.env.docname, type="sj", subtype="i18n")


def _catalog(env, lang: str) -> dict[str, str]:
    """msgid → msgstr of the page's compiled catalog (fuzzy entries are not compiled in)."""
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    domain = docname_to_domain(env.docname, env.config.gettext_compact)
    translator, found = init_locale([Path(env.srcdir) / d for d in env.config.locale_dirs], lang, domain)
    merged: dict[str, str] = {}
    while found and translator is not None:
        merged = {**getattr(translator, "_catalog", {}), **merged}
        translator = getattr(translator, "_fallback", None)
    return merged


def _language_links(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    up = "../" * (pagename.count("/") + 1)
    current = app.config.language or "en"
    context["sj_languages"] = [(label, f"{up}{code}/{pagename}{app.builder.link_suffix}", code == current)
                               for code, label in app.config.sj_languages]


def _root_redirect(app, exc) -> None:
    """Built into ``<root>/<language>``: ``<root>/index.html`` sends a visitor to the first language."""
    codes = [code for code, _ in app.config.sj_languages]
    if exc is None and app.builder.format == "html" and Path(app.outdir).name in codes:
        target = f"{codes[0]}/index.html"
        (Path(app.outdir).parent / "index.html").write_text(
            f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={target}">'
            f'<a href="{target}">sj documentation</a>\n', encoding="utf-8")


def setup(app):
    app.add_config_value("sj_languages", [("en", "English"), ("zh_CN", "中文")], "html")
    app.add_config_value("sj_require_translations", True, "env")
    app.connect("doctree-read", _insert_outputs, priority=400)  # before the image collector (500)
    app.add_transform(KeepForeignTextUntranslated)
    app.add_transform(RequireTranslations)
    app.connect("html-page-context", _language_links)
    app.connect("build-finished", _root_redirect)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
