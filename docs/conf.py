"""Sphinx configuration of the sj documentation, in English and Chinese (zh_CN).

Build both languages (what ``hatch run docs:build`` runs; the pages' code runs during the build)::

    python -m sphinx -W -q -b html docs docs/_build/html/en && \\
    python -m sphinx -W -q -b html -D language=zh_CN docs docs/_build/html/zh_CN

Update the Chinese catalogs after editing pages (``hatch run docs:update-po``), then translate the new or fuzzy
entries of ``docs/locales/zh_CN/LC_MESSAGES/**/*.po``::

    python -m sphinx -E -q -b gettext -D sj_api_reference=0 docs docs/_build/gettext && \\
    sphinx-intl update -p docs/_build/gettext -l zh_CN -d docs/locales -w 0
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the docs' own extensions and helpers (_sjdocs, _apiref, _pagecode, _surrogate_plot)

project = "sj"
author = "sj contributors"
copyright = "sj contributors, Apache-2.0"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser", "_apiref",
              "_sjdocs"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "_templates", "locales"]
autodoc_member_order = "bysource"
toc_object_entries = False  # the API pages' tables of contents list modules, not every class and method
autodoc_typehints = "description"
# a method without a docstring of its own is left out, not shown with its base class's (torch's docstrings
# reference labels of torch's own docs)
autodoc_inherit_docstrings = False
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False

# languages: English source, Chinese catalogs (one per page, without source line numbers: edits elsewhere in a
# page do not rewrite its catalog)
language = "en"
locale_dirs = ["locales/"]
gettext_compact = False
gettext_location = False
gettext_uuid = False

html_theme = "furo"
html_title = "sj"
html_static_path = ["_static"]
html_css_files = ["sj.css"]
templates_path = ["_templates"]
html_sidebars = {"**": ["sidebar/brand.html", "sidebar/search.html", "sidebar/lang.html", "sidebar/scroll-start.html",
                        "sidebar/navigation.html", "sidebar/scroll-end.html"]}


def _plot_surrogates(app) -> None:
    from _surrogate_plot import plot_all

    plot_all(HERE / "_static" / "surrogates.png")


def setup(app):
    app.connect("builder-inited", _plot_surrogates)
