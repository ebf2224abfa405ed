"""Shared set-up for the benchmarks that train MiniLM: data, model, and configurations
written as a study's ``references:`` entries."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TOKEN_CACHE = REPO / "benchmarks" / "results" / "token-cache"  # tokenized splits, reused across runs
# The practitioner's default: LoRA of rank 8 on query and value in every layer.
LORA_R8_QV = {"method": "lora", "modules": ["q", "v"], "rank": 8}
sys.path.insert(0, str(REPO))

from autopeft.data.cache import encode_cached  # noqa: E402
from autopeft.data.encoding import EncodedSplit  # noqa: E402
from autopeft.data.source import DataSource  # noqa: E402
from autopeft.driver.space import fixed_point  # noqa: E402
from autopeft.models import discover_architecture  # noqa: E402
from autopeft.models.loading import load_base_model, load_tokenizer  # noqa: E402
from autopeft.space.base import Point  # noqa: E402
from autopeft.spec.schema import reference_space  # noqa: E402
from autopeft.tasks import load_task_data, task_for  # noqa: E402


def sst2_source() -> DataSource:
    """SST-2 from ../shared/data; exits with a clear message when it is not there."""
    folder = SHARED_DATA / "sst2"
    if not folder.is_dir():
        sys.exit(f"skipped: {folder} not found (benchmarks read GLUE data from ../shared/data)")
    return DataSource(train=str(folder / "train.jsonl"), validation=str(folder / "validation.jsonl"))


def load_encoded(source: DataSource, max_length: int, train_examples: int | None = None):
    """(base MiniLM classifier, train split, validation split, task), tokenized once."""
    data = load_task_data(source, task_for("classification"))
    train = data.train if train_examples is None else data.train.shuffle(seed=0).select(range(train_examples))
    tokenizer = load_tokenizer("minilm")
    base = load_base_model("minilm", data.task, data.label_names)
    encoded: list[EncodedSplit] = [
        encode_cached(data.task, split, tokenizer, max_length, TOKEN_CACHE) for split in (train, data.validation)
    ]
    return base, encoded[0], encoded[1], data.task


def reference_point(reference: dict, base, learning_rate: float, head_learning_rate: float) -> Point:
    """A ``references:`` entry (a space with one value everywhere) with these learning rates,
    turned into a point on ``base`` as a study turns its references into points."""
    rates = {"learning_rate": learning_rate, "head_learning_rate": head_learning_rate}
    return fixed_point(reference_space(reference | rates), discover_architecture(base), base.config, "references")
