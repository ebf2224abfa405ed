"""The demo dataset: short product and experience reviews, authored for autopeft.

Sentences are composed from phrase lists written for this project (no public dataset is
copied), with negation and "X, but Y" contrasts so that a bag of words is not enough.
``python -m autopeft.data.demo DIR`` writes ``train.jsonl`` and ``validation.jsonl``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from autopeft.data.atomic import write_atomic

SUBJECTS = [
    "the film",
    "this restaurant",
    "the hotel room",
    "my new phone",
    "the concert",
    "the novel",
    "this laptop",
    "the customer service",
    "the soup",
    "our tour guide",
    "the museum",
    "the sequel",
    "the coffee",
    "the train ride",
    "this board game",
    "the lecture",
    "the weather app",
    "the hiking trail",
    "the winter jacket",
    "the corner bakery",
    "the podcast",
    "the delivery",
    "the yoga class",
    "the hostel",
    "the new update",
    "the ferry",
    "the street market",
    "the headset",
    "the cooking course",
    "the garden centre",
]
POSITIVE = [
    "was wonderful",
    "felt warm and welcoming",
    "exceeded every expectation",
    "made my whole week",
    "is worth every penny",
    "was a real delight",
    "works beautifully",
    "left me smiling",
    "was clever and moving",
    "turned out to be a gem",
    "was fresh and generous",
    "ran smoothly from start to end",
    "deserves all the praise",
    "was friendly and quick",
    "felt like a treat",
]
NEGATIVE = [
    "was a total letdown",
    "felt cold and careless",
    "broke after two days",
    "wasted my evening",
    "is overpriced and dull",
    "left me annoyed",
    "was slow and confusing",
    "fell apart quickly",
    "was bland and forgettable",
    "turned out to be a mess",
    "was rude and unhelpful",
    "kept crashing",
    "deserves none of the hype",
    "was noisy and cramped",
    "felt like a chore",
]
GOOD_WORDS = ["good", "great", "pleasant", "enjoyable", "impressive", "reliable"]
BAD_WORDS = ["bad", "awful", "boring", "disappointing", "terrible", "annoying"]
OPENERS = ["", "Honestly, ", "To be fair, ", "In the end, ", "Overall, ", "All in all, "]


def _sentence(rng: random.Random) -> tuple[str, int]:
    """One review and its label (1 positive, 0 negative)."""
    subject = rng.choice(SUBJECTS)
    form = rng.random()
    if form < 0.45:
        label = rng.randint(0, 1)
        opener = rng.choice(OPENERS)
        predicate = rng.choice(POSITIVE if label else NEGATIVE)
        text = f"{opener}{subject} {predicate}."
    elif form < 0.75:
        # Negation flips the word's polarity: "not great" is negative, "not bad" positive.
        negated_good = rng.random() < 0.5
        word = rng.choice(GOOD_WORDS if negated_good else BAD_WORDS)
        label = 0 if negated_good else 1
        text = f"{subject} was not {word} at all." if rng.random() < 0.5 else f"{subject} was not {word}."
    else:
        # The clause after "but" carries the verdict.
        label = rng.randint(0, 1)
        first = rng.choice(NEGATIVE if label else POSITIVE)
        second = rng.choice(POSITIVE if label else NEGATIVE)
        other = rng.choice([s for s in SUBJECTS if s != subject])
        text = f"{subject} {first}, but {other} {second}."
    return text[0].upper() + text[1:], label


def make_demo_splits(train_size: int = 400, validation_size: int = 200, seed: int = 13) -> dict[str, list[dict]]:
    """Distinct, label-balanced train and validation rows; the same for the same arguments."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    per_label = {0: 0, 1: 0}
    target = (train_size + validation_size) // 2
    while len(rows) < train_size + validation_size:
        text, label = _sentence(rng)
        if text in seen or per_label[label] >= target + (train_size + validation_size) % 2:
            continue
        seen.add(text)
        per_label[label] += 1
        rows.append({"idx": len(rows), "sentence": text, "label": label})
    rng.shuffle(rows)
    return {"train": rows[:train_size], "validation": rows[train_size:]}


def write_demo_dataset(folder: str | Path, **kwargs: Any) -> dict[str, Path]:
    """Write the demo splits as JSON lines; returns the file of each split."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, rows in make_demo_splits(**kwargs).items():
        path = folder / f"{split}.jsonl"
        write_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))
        written[split] = path
    return written


if __name__ == "__main__":
    for split, path in write_demo_dataset(sys.argv[1] if len(sys.argv) > 1 else "examples/data/demo-sentiment").items():
        print(f"{split}: {path}")
