"""The ``sj demo``: a small convolutional SNN trained on scikit-learn's bundled digits (8×8, 10 classes, no
download). Needs the optional extra ``sj-core[demo]`` (scikit-learn, tqdm)."""

from sj.demo.data import load_digits_split
from sj.demo.model import DigitsSNN
from sj.demo.train import DemoConfig, DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "DigitsSNN", "load_digits_split", "run_demo"]
