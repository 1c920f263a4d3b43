"""The bundled demo: a scripted task that shows the whole product without an API key."""

from pathlib import Path

DEMO_TASK = "Write a small training script, run it, and report its validation loss"
DEMO_SCRIPT = Path(__file__).with_name("train_demo.jsonl")
