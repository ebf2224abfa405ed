"""Tokenizing once per study and cutting padded batches for the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autopeft.spec import DataSpec


@dataclass(frozen=True)
class EncodedSplit:
    """Token ids per example (unpadded) and labels; batches are padded to their longest row."""

    features: dict[str, list[list[int]]]
    labels: torch.Tensor
    pad_token_id: int

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: list[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """A padded batch of the given rows, as model keyword arguments."""
        indices = [int(i) for i in indices]
        rows = {key: [values[i] for i in indices] for key, values in self.features.items()}
        width = max(len(r) for r in rows["input_ids"])
        batch = {}
        for key, values in rows.items():
            fill = self.pad_token_id if key == "input_ids" else 0
            batch[key] = torch.tensor([r + [fill] * (width - len(r)) for r in values], dtype=torch.long)
        batch["labels"] = self.labels[indices]
        return batch

    def head(self, count: int | None) -> EncodedSplit:
        """The first ``count`` rows (all when None)."""
        if count is None or count >= len(self):
            return self
        return EncodedSplit({k: v[:count] for k, v in self.features.items()}, self.labels[:count], self.pad_token_id)


def encode_split(dataset, tokenizer, spec: DataSpec, max_length: int) -> EncodedSplit:
    """Tokenize a split (truncated to ``max_length``) without padding."""
    texts = list(dataset[spec.text])
    pairs = list(dataset[spec.text_pair]) if spec.text_pair else None
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    return EncodedSplit(
        {k: list(encoded[k]) for k in keys},
        torch.tensor(list(dataset["label"]), dtype=torch.long),
        tokenizer.pad_token_id,
    )
