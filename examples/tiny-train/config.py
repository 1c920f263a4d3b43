"""Settings of the training run: the agent may change these (and train.py)."""

DEGREE = 3  # the polynomial's degree
LEARNING_RATE = 0.05
STEPS = 200
