"""Raw-format readers. Each returns plain numpy arrays and raises :class:`sj.datasets.errors.DatasetFormatError`
naming the file when it is truncated or not in its format."""
