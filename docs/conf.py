"""Sphinx configuration of the sj documentation (build: ``python -m sphinx -W -b html docs docs/_build/html``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # for _surrogate_plot

project = "sj"
author = "sj contributors"
copyright = "sj contributors, Apache-2.0"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "_generated/*.py"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
html_static_path = ["_static"]
nitpicky = False


def _plot_surrogates(app) -> None:
    from _surrogate_plot import plot_all

    plot_all(HERE / "_static" / "surrogates.png")



def setup(app):
    app.connect("builder-inited", _plot_surrogates)
