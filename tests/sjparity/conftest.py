"""The table of test_sj_pieces.py: how many of SpikingJelly 2.0.0's tutorial/example pieces run on SJ, run on sj with
import-only changes, and give the same numbers (printed at the end of any session that ran them, xdist included:
each piece's outcome travels in its report's ``user_properties``)."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    outcomes = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                for name, value in getattr(report, "user_properties", ()):
                    if name == "sj_piece":
                        outcomes[value["piece"]] = value
    if not outcomes:
        return
    ran = [o for o in outcomes.values() if o["sj2"]]
    on_sj = [o for o in ran if o["sj"]]
    equal = [o for o in on_sj if o["equal"]]
    write = terminalreporter.write_line
    terminalreporter.section("SpikingJelly 2.0.0 pieces on sj (import paths replaced, nothing else)")
    write(f"{'piece':48} {'SJ':>3} {'sj':>3} {'equal':>5} {'max |diff|*':>12} {'s':>6}")
    for o in sorted(outcomes.values(), key=lambda o: o["piece"]):
        diff = "" if o["max_diff"] is None else f"{o['max_diff']:.3g}"
        secs = "" if o["seconds"] is None else f"{o['seconds']:.2f}"
        write(f"{o['piece']:48} {'yes' if o['sj2'] else 'no':>3} {'yes' if o['sj'] else 'no':>3} "
              f"{'yes' if o['equal'] else 'no':>5} {diff:>12} {secs:>6}")

    def share(part: list, whole: list) -> str:
        return f"{len(part)}/{len(whole)} ({100 * len(part) / len(whole):.0f} %)" if whole else "0/0"

    write(f"run on SJ 2.0.0: {len(ran)}; run on sj: {share(on_sj, ran)}; equal numbers (max |diff|* ≤ 1e-5): "
          f"{share(equal, ran)}")
    write("* over every number a piece reports; each tensor's |sj − SJ| divided by max(1, its largest |SJ value|)")
