"""Tokenization once per study: encoded splits cached on disk, keyed by what they depend on.

The key covers the data (datasets' content fingerprint), the task and the columns it reads,
the tokenizer and the maximum length, so a changed input never reuses a stale cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import torch

from autopeft.data.atomic import replacing
from autopeft.data.encoding import EncodedSplit
from autopeft.data.source import Columns

logger = logging.getLogger(__name__)

# 2: the key holds the task's name and columns (1 held the whole data spec).
CACHE_VERSION = 2


class Encoder(Protocol):
    """What the cache needs of a task (``autopeft.tasks.Task`` is one)."""

    name: str
    columns: Columns

    def encode(self, dataset: Any, tokenizer: Any, max_length: int) -> EncodedSplit: ...


def cache_key(task: Encoder, dataset: Any, tokenizer: Any, max_length: int) -> str:
    parts = {
        "version": CACHE_VERSION,
        "data": dataset._fingerprint,
        "task": {"task": task.name, **asdict(task.columns)},
        "tokenizer": [tokenizer.name_or_path, len(tokenizer), type(tokenizer).__name__],
        "max_length": max_length,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def encode_cached(task: Encoder, dataset: Any, tokenizer: Any, max_length: int, cache_dir: Path | None) -> EncodedSplit:
    """The split tokenized by ``task``, read from ``cache_dir`` when it was tokenized before."""
    if cache_dir is None:
        return task.encode(dataset, tokenizer, max_length)
    file = Path(cache_dir) / f"tokens-{cache_key(task, dataset, tokenizer, max_length)}.pt"
    if file.is_file():
        try:
            stored = torch.load(file, weights_only=True)
            return EncodedSplit(stored["features"], stored["labels"], stored["pad_values"])
        except Exception as error:  # unreadable (a damaged disk, a foreign file): tokenize again
            logger.warning("tokenizing again: the cached tokens in %s are unreadable (%s)", file, error)
    encoded = task.encode(dataset, tokenizer, max_length)
    file.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer (several workers may fill one cache), renamed whole: a killed
    # search never leaves a half-written cache behind.
    with replacing(file) as partial:
        torch.save({"features": encoded.features, "labels": encoded.labels, "pad_values": encoded.pad_values}, partial)
    return encoded
