"""Child process for the fallback and concurrency tests: run one custom or built-in neuron on the cpu backend,
compare with the torch reference, print a JSON line with the backend's details and a digest of the cpu results."""

import hashlib
import json
import sys
import warnings

import torch

from sj.backends.registry import get_backend
from sj.neuron.declaration import declare
from sj.ops import multistep

neuron = sys.argv[1]
if neuron == "child_custom":
    declare("child_custom", "v + (x - v) / tau + 0.25 * tanh(v)", params=("tau",))
params = [1.0, 0.0, 2.0] if neuron in ("lif", "child_custom") else [1.0, 0.0]
torch.manual_seed(0)
x = torch.rand(6, 33, dtype=torch.float64) * 1.5
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for backend in ("cpu", "torch"):
        xg = x.clone().requires_grad_()
        s, last, _ = multistep(neuron, xg, [torch.zeros(33, dtype=torch.float64)], params, surrogate="ATan",
                               surrogate_params=[2.0], backend=backend)
        (s.sum() + last[0].sum()).backward()
        out[backend] = (s, last[0], xg.grad)
ok = all(torch.allclose(a, b, atol=1e-9) for a, b in zip(out["cpu"], out["torch"]))
digest = hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in out["cpu"])).hexdigest()
print(json.dumps({"ok": ok, "digest": digest, "details": get_backend("cpu").details(),
                  "warnings": [str(w.message) for w in caught]}))
