"""Benchmark of sj.ann2snn on scikit-learn's digits: accuracy ratio SNN/ANN over T, conversion (calibration) time,
and the cost of SNN inference relative to the ANN's.

    python benchmarks/bench_ann2snn_digits.py [--mode 99.9%] [--channelwise] [--backend torch]

Prints one line per T: SNN accuracy, SNN/ANN accuracy ratio, SNN/ANN inference-time ratio (T steps on the whole
test split vs one ANN pass).
"""

from __future__ import annotations

import argparse
import time

import torch

from sj.ann2snn import Converter
from sj.ann2snn.demo import ann_accuracy, digits_cnn, train_ann
from sj.demo.data import load_digits_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="99.9%")
    p.add_argument("--channelwise", action="store_true")
    p.add_argument("--backend", default="torch")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    mode: str | float = args.mode if args.mode == "max" or args.mode.endswith("%") else float(args.mode)

    torch.manual_seed(args.seed)
    x_tr, y_tr, x_te, y_te = load_digits_split(seed=args.seed)
    ann = digits_cnn()
    t0 = time.perf_counter()
    train_ann(ann, x_tr, y_tr, epochs=args.epochs, seed=args.seed)
    train_s = time.perf_counter() - t0
    ann_acc = ann_accuracy(ann, x_te, y_te)
    t0 = time.perf_counter()
    snn = Converter(mode=mode, momentum=None, channelwise=args.channelwise, backend=args.backend,
                    progress=False)(ann, [x_tr[i:i + 256] for i in range(0, len(x_tr), 256)])
    convert_s = time.perf_counter() - t0
    with torch.no_grad():
        ann(x_te)  # warm-up
        t0 = time.perf_counter()
        ann(x_te)
        ann_s = time.perf_counter() - t0
    snn.run_static(x_te[:8], 2)  # warm-up
    print(f"ANN: accuracy {ann_acc * 100:.2f} %, training {train_s:.1f} s, inference {ann_s * 1e3:.1f} ms; "
          f"conversion {convert_s:.2f} s (mode={mode!r}, channelwise={args.channelwise}, backend={args.backend})")
    print(f"{'T':>4}  {'SNN acc':>8}  {'acc ratio':>9}  {'time ratio':>10}")
    for T in (8, 16, 32, 64):
        t0 = time.perf_counter()
        out = snn.run_static(x_te, T)
        snn_s = time.perf_counter() - t0
        acc = (out.mean(0).argmax(1) == y_te).float().mean().item()
        print(f"{T:>4}  {acc * 100:>7.2f}%  {acc / ann_acc:>9.3f}  {snn_s / ann_s:>10.1f}")


if __name__ == "__main__":
    main()
