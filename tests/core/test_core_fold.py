"""sj.codegen.fold: the torch reference's backward gathers invariant factors first — fewer passes over the neurons,
never more, and the same values (up to the rounding of reassociated factors) for every built-in neuron × surrogate."""

import itertools

import pytest
import torch

import sj.neuron.builtin
from sj.backends import torch_codegen
from sj.codegen.fold import fold, fold_program, is_invariant, passes
from sj.codegen.ir import inline_surrogate, prune
from sj.codegen.torch_printer import compile_source
from sj.neuron.derived import neuron_program, surrogate_program
from sj.surrogate.declarations import BUILTIN_SURROGATES

# ATan's derivative as derived: alpha / ((1 + 9.87·alpha²·z²/4) · 2)
ATAN = ["/", "sp_alpha", ["*", ["+", 1, ["/", ["*", 9.869604401089358, ["pow", "sp_alpha", 2], ["pow", "z", 2]], 4]],
                                2]]


def test_atan_derivative_takes_four_passes_instead_of_six():
    invariant = {"sp_alpha"}
    folded = fold(ATAN, invariant)
    assert (passes(ATAN, invariant), passes(folded, invariant)) == (6, 4)
    z = torch.linspace(-3, 3, 101, dtype=torch.float64)
    ns = compile_source("def f(z, sp_alpha):\n    return (" + torch_codegen.TorchPrinter().expr(ATAN) + ", "
                        + torch_codegen.TorchPrinter().expr(folded) + ")\n", "atan")
    a, b = ns["f"](z, torch.tensor(2.0, dtype=torch.float64))
    torch.testing.assert_close(a, b, rtol=4e-16, atol=0)


def test_a_rewrite_that_saves_nothing_is_not_made():
    invariant = {"tau"}
    for e in (["/", "z", "tau"], ["*", "tau", "z"], ["/", ["+", "x", "v"], "tau"], ["*", 2, "tau"]):
        assert fold(e, invariant) == e


def test_invariant_bindings_extend_the_invariant_names():
    program = [["c", ["/", 1, "tau"]], ["d", ["*", "c", 3, "z", 2]]]
    folded, invariant = fold_program(program, {"tau"})
    assert invariant == {"tau", "c"}
    assert folded[1] == ["d", ["*", ["*", "c", 3, 2], "z"]]


CASES = list(itertools.product(sj.neuron.builtin.BUILTIN_NEURONS, BUILTIN_SURROGATES, (False, True)))


@pytest.mark.parametrize("neuron, surrogate, soft", CASES, ids=lambda v: str(v))
def test_every_builtin_backward_folds_to_no_more_passes_and_the_same_values(neuron, surrogate, soft):
    prog, sprog = neuron_program(neuron, soft, False), surrogate_program(surrogate)
    results = list(prog["backward_out"].values())
    body = prune(inline_surrogate(prog["backward"], sprog), results)
    invariant = {*prog["params"], *sprog["params"]}
    folded, extended = fold_program(body, invariant)
    assert extended == {n for n, e in body if is_invariant(e, extended)} | invariant  # folding keeps invariance
    before = sum(passes(e, extended) for e in [*(e for _, e in body), *results])
    after = sum(passes(e, extended) for e in [*(e for _, e in folded), *(fold(r, extended) for r in results)])
    assert after <= before
    gen = torch.Generator().manual_seed(0)
    args = ["h", "x", *prog["states"], *prog["params"], *sprog["params"], "grad_s",
            *(f"grad_{n}" for n in prog["states"])]
    values = {a: torch.rand(64, dtype=torch.float64, generator=gen) * 2 - 0.5 for a in args}
    for p in (*prog["params"], *sprog["params"]):  # parameters as the neurons use them: 0-d, in their ranges
        values[p] = torch.tensor(1.5 + torch.rand((), generator=gen).item(), dtype=torch.float64)
    pr = torch_codegen.TorchPrinter()

    def run(program, outs):
        src = (f"def f({', '.join(args)}):\n" + "\n".join(pr.assignments(program)) + "\n"
               + f"    return ({', '.join(pr.expr(r) for r in outs)},)\n")
        return compile_source(src, "fold-test")["f"](**values)

    plain, refolded = run(body, results), run(folded, [fold(r, extended) for r in results])
    for a, b in zip(plain, refolded):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12, equal_nan=True)
