"""Child process of ``test_fuzz_op_entries.py``: fuzz the op entries of the backends named in ``argv[1]``
(comma-separated) with ``argv[2]`` examples, so a kernel that crashes the process fails the test instead of killing
pytest. Prints each example before running it (the last one printed is the culprit of a crash)."""

import logging
import sys

from _fuzz_op_calls import calls, check, fuzz_settings
from hypothesis import given

import sj.neuron  # noqa: F401  (registers the built-in declarations)

logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.CRITICAL)  # its log of every expected error
backends, examples = sys.argv[1].split(","), int(sys.argv[2])


@fuzz_settings(examples)
@given(c=calls())
def fuzz(c) -> None:
    print(c, file=sys.stderr, flush=True)
    for backend in backends:
        check(backend, c)


fuzz()
