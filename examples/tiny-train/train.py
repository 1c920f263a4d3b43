"""Fit a polynomial to the training data by gradient descent; write the weights to model.json.

Pure Python, so it runs anywhere in a second or two. The agent may change this file and
config.py to lower the validation loss that ``prepare.py evaluate`` reports.
"""

from __future__ import annotations

import json

import config
from prepare import make_data, predict


def train(points: list[tuple[float, float]]) -> list[float]:
    """Gradient descent on the mean squared error, from all-zero weights."""
    weights = [0.0] * (config.DEGREE + 1)
    for step in range(1, config.STEPS + 1):
        gradient = [0.0] * len(weights)
        loss = 0.0
        for x, y in points:
            error = predict(weights, x) - y
            loss += error * error
            for k in range(len(weights)):
                gradient[k] += 2.0 * error * x**k
        rate = config.LEARNING_RATE / len(points)
        weights = [w - rate * g for w, g in zip(weights, gradient, strict=True)]
        if step % 50 == 0 or step == config.STEPS:
            print(f"step {step}: train_loss {loss / len(points):.6f}", flush=True)
    return weights


if __name__ == "__main__":
    train_points, _ = make_data()
    with open("model.json", "w") as f:
        json.dump({"weights": train(train_points)}, f)
