"""Loading the plug-ins (what the first use of any backend does) stays cheap: every installed plug-in's entry-point
module is imported to collect its hooks, so none may import its heavy dependencies there (sj.plugins.lazy)."""

import json
import subprocess
import sys

HEAVY = ("nir", "nirtorch", "h5py", "tonic", "triton", "cupy", "sympy", "scipy", "sklearn", "matplotlib", "numba",
         "torch.export")

CHILD = """
import json, sys, torch
before = set(sys.modules)
from sj.backends.registry import backends
from sj.plugins.registry import plugin_manager
backends()
plugins = sorted(name for name, _ in plugin_manager().list_name_plugin())
print(json.dumps({"new": sorted(set(sys.modules) - before), "plugins": plugins}))
"""


def test_loading_every_plugin_imports_no_heavy_dependency():
    res = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(out["plugins"]) >= 2, out["plugins"]  # the workspace's plug-ins are installed in the test env
    heavy = [m for m in out["new"] if m.split(".")[0] in HEAVY or any(m.startswith(h + ".") or m == h for h in HEAVY)]
    assert not heavy, f"loading the plug-ins {out['plugins']} imported {sorted(heavy)[:20]}"
