"""Tokenized splits: token ids per example, padded per batch, and the cache that makes
tokenization run once per study."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

# Padding of label token lists: positions the loss ignores.
IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedSplit:
    """Token lists per example (unpadded) and one target per example, if the task has them.

    ``features`` maps model inputs (``input_ids``, ``attention_mask``, ..., and ``labels``
    for token-level targets) to one list per example; ``pad_values`` says how each is
    padded. ``labels`` holds example-level targets (class ids or values), or None.
    """

    features: dict[str, list[list[int]]]
    labels: torch.Tensor | None
    pad_values: dict[str, int]

    def __len__(self) -> int:
        return len(self.features["input_ids"])

    def digest(self) -> str:
        """A fingerprint of every row as the model sees it (token ids and targets): a study
        compares it across runs to notice data changed under it."""
        hasher = hashlib.sha256()
        for name in sorted(self.features):
            hasher.update(name.encode())
            for row in self.features[name]:
                hasher.update(array("q", row).tobytes() + b"|")
        if self.labels is not None:
            hasher.update(self.labels.detach().cpu().numpy().tobytes())
        return hasher.hexdigest()[:16]

    def lengths(self) -> list[int]:
        """Tokens per example."""
        return [len(ids) for ids in self.features["input_ids"]]

    def batch(self, indices: list[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """A padded batch of the given rows, as model keyword arguments."""
        indices = [int(i) for i in indices]
        width = max(len(self.features["input_ids"][i]) for i in indices)
        batch = {}
        for key, values in self.features.items():
            fill = self.pad_values.get(key, 0)
            batch[key] = torch.tensor([values[i] + [fill] * (width - len(values[i])) for i in indices])
        if self.labels is not None:
            batch["labels"] = self.labels[indices]
        return batch

    def head(self, count: int | None) -> EncodedSplit:
        """The first ``count`` rows (all when None)."""
        if count is None or count >= len(self):
            return self
        labels = None if self.labels is None else self.labels[:count]
        return EncodedSplit({k: v[:count] for k, v in self.features.items()}, labels, self.pad_values)


def tokenizer_features(
    encoded: Mapping[str, Any], keys: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
) -> dict:
    """The model inputs a tokenizer produced, as plain lists."""
    return {key: [list(row) for row in encoded[key]] for key in keys if key in encoded}
