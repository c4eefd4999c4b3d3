"""Build the committed Fashion-MNIST subset in data/fashion-mnist-subset/ from a full copy.

Usage: python scripts/make_subset.py [--source /usr/share/datasets/fashion-mnist]

Takes the first N images of each class (stratified, deterministic) so that the subset is
balanced and the same on every run. See data/README.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from course_utils.data import (
    DEBIAN_DIR,
    SUBSET_DIR,
    read_fashion_mnist_dir,
    write_fashion_mnist_dir,
)


def stratified(x: np.ndarray, y: np.ndarray, per_class: int):
    """Return the first ``per_class`` examples of every class, in original order."""
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(10)]))
    return x[keep], y[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_DIR)
    parser.add_argument("--out", type=Path, default=SUBSET_DIR)
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=100)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = read_fashion_mnist_dir(args.source)
    train = stratified(x_train, y_train, args.train_per_class)
    test = stratified(x_test, y_test, args.test_per_class)
    write_fashion_mnist_dir(args.out, train, test)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(
        f"wrote {len(train[1])} train + {len(test[1])} test images to {args.out} ({size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
