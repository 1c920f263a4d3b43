"""The data and the evaluation of the tiny-train task. Protected: the agent must not edit it.

The data are made deterministically (a fixed seed): noisy samples of a smooth curve, split
into a training and a validation set. ``python3 prepare.py evaluate model.json`` reads the
trained model that ``train.py`` wrote and prints ``val_loss: X``, the mean squared error on
the validation set: the harness reads that number, so it comes from code the agent cannot
change.
"""

from __future__ import annotations

import json
import math
import random
import sys

SEED = 1234
SAMPLES = 240
NOISE = 0.1


def target(x: float) -> float:
    """The curve the model must learn."""
    return math.sin(2.0 * x) + 0.3 * x


def make_data() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(train, validation): pairs (x, y), x in [-1.5, 1.5], the same on every call."""
    rng = random.Random(SEED)
    points = []
    for _ in range(SAMPLES):
        x = rng.uniform(-1.5, 1.5)
        points.append((x, target(x) + rng.gauss(0.0, NOISE)))
    cut = SAMPLES * 3 // 4
    return points[:cut], points[cut:]


def predict(weights: list[float], x: float) -> float:
    """The model: a polynomial in x with the given coefficients (constant term first)."""
    return sum(w * x**k for k, w in enumerate(weights))


def evaluate(weights: list[float]) -> float:
    """Mean squared error on the validation set."""
    _, validation = make_data()
    return sum((predict(weights, x) - y) ** 2 for x, y in validation) / len(validation)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "evaluate":
        print("usage: python3 prepare.py evaluate MODEL.json", file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        weights = [float(w) for w in json.load(f)["weights"]]
    loss = evaluate(weights)
    if not math.isfinite(loss):
        print("val_loss: nan")
        return 1
    print(f"val_loss: {loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
