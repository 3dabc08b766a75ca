"""Symbolic derivation (sympy): declarations → forward and backward-through-time programs in the IR.

Imported only when a declaration has no cached derivation (sympy costs ~0.3–0.6 s to import). Built-in neurons and
surrogates ship their derivations in ``derived_builtin.json``; regenerate it with ``python -m sj.neuron.derive``.
"""

from __future__ import annotations

import re

import sympy as sp

from sj.codegen.ir import Expr
from sj.neuron.declaration import BASE_PARAMS, NeuronDecl

DERIVE_VERSION = 2  # 2: parameter gradients through h reduced after x is eliminated (_charge_derivative)


def _sigmoid(a):
    return 1 / (1 + sp.exp(-a))


def _namespace(names) -> dict:
    ns = {n: sp.Symbol(n, real=True) for n in names}
    ns.update(sigmoid=_sigmoid, pi=sp.pi, exp=sp.exp, log=sp.log, atan=sp.atan, tanh=sp.tanh, erf=sp.erf,
              Abs=sp.Abs, abs=sp.Abs, sign=sp.sign, sqrt=sp.sqrt, Max=sp.Max, Min=sp.Min, Piecewise=sp.Piecewise)
    return ns


def _no_minmax(e: sp.Expr) -> sp.Expr:
    """Max/Min → Piecewise, so derivatives at the kink follow torch's convention (relu'(0) = 0)."""
    return e.replace(lambda a: isinstance(a, (sp.Max, sp.Min)), _minmax_piecewise)


def _minmax_piecewise(e):
    a, *rest = e.args
    for b in rest:
        a = sp.Piecewise((a, a > b), (b, True)) if isinstance(e, sp.Max) else sp.Piecewise((a, a < b), (b, True))
    return a


def parse(text: str, names, where: str) -> sp.Expr:
    """Parse ``text`` with the given free symbol names; the error names the declaration part ``where``."""
    ns = _namespace(names)
    try:
        e = sp.sympify(text, locals=ns)
    except (sp.SympifyError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{where}: cannot parse {text!r}: {exc}") from exc
    unknown = {s.name for s in e.free_symbols} - set(names)
    if unknown:
        raise ValueError(f"{where}: unknown symbols {sorted(unknown)} in {text!r}; allowed: {sorted(names)}")
    return _no_minmax(e)


# ---------------------------------------------------------------------------------------------------------- IR
_FUNCS = {sp.exp: "exp", sp.log: "log", sp.atan: "atan", sp.tanh: "tanh", sp.erf: "erf", sp.Abs: "abs",
          sp.sign: "sign"}
_REL = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">="}


def to_ir(e) -> Expr:
    """Convert a sympy expression into the IR (:mod:`sj.codegen.ir`)."""
    if e is sp.true or e is True:
        return 1
    if isinstance(e, sp.Symbol):
        return e.name
    if isinstance(e, sp.Integer):
        return int(e)
    if e.is_number:
        return float(e)
    if isinstance(e, sp.Add):
        return ["+", *(to_ir(a) for a in e.args)]
    if isinstance(e, sp.Mul):
        return _mul_ir(e)
    if isinstance(e, sp.Pow):
        base, ex = e.args
        if ex == sp.Rational(1, 2):
            return ["sqrt", to_ir(base)]
        if ex.is_number and ex < 0:
            return ["/", 1, to_ir(base ** -ex)]
        if ex == 1:
            return to_ir(base)
        return ["pow", to_ir(base), int(ex) if ex.is_Integer else to_ir(ex)]
    if isinstance(e, sp.Heaviside):  # from sign/abs derivatives; strict step like torch's relu'
        return ["where", [">", to_ir(e.args[0]), 0], 1, 0]
    if isinstance(e, sp.Piecewise):
        return _piecewise_ir(list(e.args))
    if isinstance(e, sp.And):
        return _fold("and", [to_ir(a) for a in e.args])
    if isinstance(e, sp.Or):
        return _fold("or", [to_ir(a) for a in e.args])
    for cls, op in _REL.items():
        if isinstance(e, cls):
            return [op, to_ir(e.lhs), to_ir(e.rhs)]
    for fn, name in _FUNCS.items():
        if isinstance(e, fn):
            return [name, to_ir(e.args[0])]
    raise ValueError(f"expression {e} uses {type(e).__name__}, which sj cannot generate code for")


def _fold(op: str, items: list) -> Expr:
    out = items[0]
    for it in items[1:]:
        out = [op, out, it]
    return out


def _mul_ir(e: sp.Mul) -> Expr:
    coeff, factors = e.as_coeff_mul()
    num, den = [], []
    for f in factors:
        if isinstance(f, sp.Pow) and f.exp.is_number and f.exp < 0:
            den.append(to_ir(f.base ** -f.exp))
        else:
            num.append(to_ir(f))
    if coeff.is_Rational and coeff.q != 1:
        den.append(int(coeff.q))
        coeff = sp.Integer(coeff.p)
    neg = coeff < 0
    coeff = abs(coeff)
    if coeff != 1 or not num:
        num.insert(0, int(coeff) if coeff.is_Integer else float(coeff))
    out: Expr = num[0] if len(num) == 1 else ["*", *num]
    if den:
        out = ["/", out, den[0] if len(den) == 1 else ["*", *den]]
    return ["neg", out] if neg else out


def _piecewise_ir(pairs: list) -> Expr:
    (expr, cond), rest = pairs[0], pairs[1:]
    if cond is sp.true or not rest:
        return to_ir(expr)
    return ["where", to_ir(cond), to_ir(expr), _piecewise_ir(rest)]


def _cse_program(named: dict[str, sp.Expr], prefix: str) -> tuple[list, dict[str, Expr]]:
    """Common-subexpression-eliminate several outputs into one program of bindings and output expressions."""
    keys = list(named)
    repl, reduced = sp.cse([named[k] for k in keys], symbols=sp.numbered_symbols(prefix), optimizations="basic")
    program = [[str(sym), to_ir(val)] for sym, val in repl]
    return program, {k: to_ir(r) for k, r in zip(keys, reduced)}


# ----------------------------------------------------------------------------------------------------- neurons
def derive_neuron(decl: NeuronDecl, soft_reset: bool, detach_reset: bool) -> dict:
    """Derive the forward and backward programs of ``decl`` for one reset mode.

    Returns a JSON-able dict:

    - ``forward``: bindings over ``x``, the states and the params; binds ``h``, ``z`` (= h − v_threshold), ``s``;
      ``forward_out`` maps ``s`` and every state name to its new value's expression.
    - ``reset``: ``v`` after reset as an expression of ``h``, ``s`` and the params (backward recomputes the previous
      ``v`` from the previous saved ``h`` with it).
    - ``backward``: bindings over ``h``, ``z``, ``s``, ``sg`` (surrogate derivative at ``z``), the previous states,
      the params, ``grad_s`` and ``grad_<state>`` (gradients arriving at the new states), plus ``x`` if
      ``needs_x``; ``backward_out`` maps ``x``, each state and each param to its gradient expression.
    """
    names = ["x", *decl.state_names, *decl.param_names]
    ns_names = [*names, "h", "s"]
    sym = {n: sp.Symbol(n, real=True) for n in ns_names}
    where = f"neuron {decl.name!r}"

    forward: list = []
    env = {sym[n]: sym[n] for n in names}  # current value of each symbol, as an expression of step inputs
    version = dict.fromkeys(decl.aux_states, 0)
    cur_name = {n: n for n in decl.state_names}

    def assign(target: str, text: str, allowed: list[str], stage: str) -> None:
        e = parse(text, allowed, f"{where} {stage} update of {target!r}")
        local = e.subs({sym[n]: sp.Symbol(cur_name.get(n, n), real=True) for n in allowed if n in cur_name})
        version[target] += 1
        new = f"{target}_{version[target]}"
        forward.append([new, to_ir(local)])
        env[sym[target]] = e.subs(env, simultaneous=True)
        cur_name[target] = new

    for target, text in decl.pre:
        assign(target, text, names, "pre")
    charge = parse(decl.charge, names, f"{where} charge")
    forward.append(["h", to_ir(charge.subs({sym[n]: sp.Symbol(cur_name.get(n, n), real=True) for n in names
                                            if n in cur_name}))])
    forward.append(["z", ["+", "h", ["neg", "v_threshold"]]])
    forward.append(["s", ["heaviside", "z"]])
    h_full = charge.subs(env, simultaneous=True)  # h as a function of step inputs

    post_exprs: dict[str, sp.Expr] = {}
    for target, text in decl.post:
        assign(target, text, ns_names, "post")
        post_exprs[target] = env[sym[target]]  # h and s stay symbols: env never binds them
    h, s = sym["h"], sym["s"]
    reset = h - sym["v_threshold"] * s if soft_reset else h * (1 - s) + sym["v_reset"] * s
    forward_out = {"s": "s", "v": to_ir(reset)}
    for a in decl.aux_states:
        forward_out[a] = cur_name[a]

    # New states as functions of (step inputs, h, s): pre updates folded in, h and s kept as symbols.
    new_state = {"v": reset}
    for a in decl.aux_states:
        new_state[a] = post_exprs.get(a, env[sym[a]])
    grads_in = {n: sp.Symbol(f"grad_{n}", real=True) for n in decl.state_names}
    grad_s, sg = sp.Symbol("grad_s", real=True), sp.Symbol("sg", real=True)

    def through_states(wrt: sp.Symbol) -> sp.Expr:
        return sum((grads_in[n] * sp.diff(new_state[n], wrt) for n in decl.state_names), sp.Integer(0))

    # detach_reset: the spike is a constant inside the reset and the post updates.
    grad_s_total = grad_s if detach_reset else grad_s + through_states(s)
    grad_h = grad_s_total * sg + through_states(h)
    outs: dict[str, sp.Expr] = {}
    inputs = ["x", *decl.state_names, *decl.param_names]
    x_of_h = _eliminate_x(h_full, sym)
    for n in inputs:
        g = grad_h * _charge_derivative(h_full, sym[n], sym["x"], x_of_h) + through_states(sym[n])
        if n == "v_threshold":
            g -= grad_s_total * sg  # z = h − v_threshold
        outs[n] = g

    if x_of_h is not None:
        outs = {k: v.subs(sym["x"], x_of_h) for k, v in outs.items()}
    needs_x = any(v.has(sym["x"]) for v in outs.values())
    backward, backward_out = _cse_program(outs, "cse")
    return {
        "version": DERIVE_VERSION,
        "neuron": decl.name,
        "hash": decl.content_hash,
        "soft_reset": soft_reset,
        "detach_reset": detach_reset,
        "states": list(decl.state_names),
        "params": list(decl.param_names),
        "forward": forward,
        "forward_out": forward_out,
        "reset": to_ir(reset),
        "backward": [["z", ["+", "h", ["neg", "v_threshold"]]], ["s", ["heaviside", "z"]],
                     ["sg", ["surrogate", "z"]], *backward],
        "backward_out": backward_out,
        "needs_x": needs_x,
    }


def _charge_derivative(h_full: sp.Expr, wrt: sp.Symbol, x: sp.Symbol, x_of_h: sp.Expr | None) -> sp.Expr:
    """``dh/d(wrt)``; where it reads ``x`` and ``x`` can be written through ``h``, written through ``h`` and reduced.
    The reduction matters: PLIF's ``dh/dw`` is ``(x - v + v_reset) e^-w / (1 + e^-w)^2``, which becomes a
    24-operation expression once ``x`` is replaced, and cancels to ``(h - v) / (e^w + 1)``; LIF's ``dh/dtau`` to
    ``(v - h) / tau``. The reduced form is kept only when it has fewer operations."""
    d = sp.diff(h_full, wrt)
    if x_of_h is None or not d.has(x):
        return d
    d = d.subs(x, x_of_h)
    reduced = sp.cancel(sp.expand(d))
    return min((d, reduced, sp.factor(reduced)), key=sp.count_ops)


def _eliminate_x(h_full: sp.Expr, sym: dict) -> sp.Expr | None:
    """If the charge is linear in ``x`` with an ``x``-free coefficient, express ``x`` through ``h`` so backward
    needs only the saved H sequence, not the input."""
    x = sym["x"]
    if h_full.has(sp.Piecewise):
        return None
    coeff = sp.diff(h_full, x)
    if coeff.has(x) or coeff == 0:
        return None
    rest = sp.expand(h_full - coeff * x)
    if rest.has(x):
        return None
    return (sym["h"] - rest) / coeff


# -------------------------------------------------------------------------------------------------- surrogates
def derive_surrogate(decl) -> dict:
    """Derive a surrogate's programs: ``derivative`` (bindings + ``out``) and ``primitive`` (or ``None``), both
    over ``z`` and the surrogate's parameters (named ``sp_<param>``)."""
    names = ["z", *(f"sp_{p}" for p in decl.params)]
    rename = {p: f"sp_{p}" for p in decl.params}

    def load(text: str, what: str) -> sp.Expr:
        for p, q in rename.items():
            text = _replace_word(text, p, q)
        return parse(text, names, f"surrogate {decl.name!r} {what}")

    deriv = load(decl.derivative, "derivative")
    program, out = _cse_program({"out": deriv}, "sgc")
    result = {"version": DERIVE_VERSION, "surrogate": decl.name, "hash": decl.content_hash,
              "params": [f"sp_{p}" for p in decl.params], "derivative": program, "derivative_out": out["out"],
              "primitive": None}
    if decl.primitive is not None:
        prim = load(decl.primitive, "primitive")
        result["primitive"] = to_ir(prim)
    return result


def _replace_word(text: str, old: str, new: str) -> str:
    return re.sub(rf"\b{re.escape(old)}\b", new, text)


def check_surrogate_consistency(decl, points=(-2.3, -0.7, -0.1, 0.05, 0.4, 1.9)) -> float:
    """Max |d/dz primitive − declared derivative| at sample points (0 when the primitive is absent)."""
    if decl.primitive is None:
        return 0.0
    z = sp.Symbol("z", real=True)
    names = ["z", *decl.params]
    prim = parse(decl.primitive, names, decl.name)
    der = parse(decl.derivative, names, decl.name)
    vals = {sp.Symbol(p, real=True): v for p, v in zip(decl.params, decl.defaults)}
    diff = sp.diff(prim, z).subs(vals)
    der = der.subs(vals)
    return max(abs(float(diff.subs(z, p)) - float(der.subs(z, p))) for p in points)


def _main() -> None:
    """Regenerate the shipped derivations of every built-in neuron and surrogate."""
    from sj.neuron.derived import write_builtin_cache

    path = write_builtin_cache()
    print(f"wrote {path}")


if __name__ == "__main__":
    _main()

__all__ = ["BASE_PARAMS", "derive_neuron", "derive_surrogate", "to_ir"]
