"""``spikingjelly.datasets.bullying10k``'s public names at its path (see :mod:`sj.datasets.sj2_paths`)."""

from sj.datasets.sj2_paths import reexport

reexport(globals())
