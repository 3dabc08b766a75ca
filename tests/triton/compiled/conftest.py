"""The compiled-mode checks of sj-triton (``checks_*.py``): run by ``tests/triton/test_triton_compiled.py`` in a
pytest session of their own without ``TRITON_INTERPRET`` (Triton decorates its own library for the interpreter when
that is set at import, after which nothing compiles). Refuses to run under the interpreter."""

from __future__ import annotations

import os

if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
    raise RuntimeError("tests/triton/compiled runs without TRITON_INTERPRET (see tests/triton/test_triton_compiled.py)")
