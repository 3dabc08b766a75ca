"""scikit-learn's digits as tensors: ``x`` ``[N, 1, 8, 8]`` in ``[0, 1]``, ``y`` ``[N]`` int64."""

from __future__ import annotations

import torch


def load_digits_split(test_fraction: float = 0.25, seed: int = 0, subset: int | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Load digits (1797 samples) and split them, stratified, into train and test sets.

    Args:
        test_fraction: fraction of samples held out for testing.
        seed: split seed.
        subset: keep only the first ``subset`` samples (before splitting), for quick runs.

    Returns:
        ``(x_train, y_train, x_test, y_test)``; pixel values divided by 16.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise ImportError("the demo needs scikit-learn: pip install 'sj-core[demo]'") from exc
    images, labels = load_digits(return_X_y=True)
    if subset is not None:
        if subset < 20:
            raise ValueError(f"subset must be ≥ 20 samples, got {subset}")
        images, labels = images[:subset], labels[:subset]
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=test_fraction, random_state=seed,
                                              stratify=labels)

    def as_tensors(x, y):
        return torch.tensor(x, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0, torch.tensor(y, dtype=torch.long)

    return (*as_tensors(x_tr, y_tr), *as_tensors(x_te, y_te))
