"""Code generation from derived programs: a tiny expression IR and printers for torch, C/CUDA and Triton.

Backends print the same derived programs (see :mod:`sj.neuron.derived`) into their own language, so a neuron or
surrogate declared once runs everywhere without hand-written kernels.
"""
