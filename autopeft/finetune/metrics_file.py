"""``metrics.json``, the scores ``autopeft train`` writes, as every reader sees it: files an
older autopeft wrote are read in today's keys."""

from __future__ import annotations

from typing import Any

METRICS_FILE = "metrics.json"


def upgraded_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    """Metrics in today's keys. Before ``validation_digest``, ``validation_rows`` held the
    fingerprint of the validation rows (where ``SearchResult.validation_rows`` is their number):
    the fingerprint moves to ``validation_digest`` and the number is ``validation_examples``."""
    rows = raw.get("validation_rows")
    if not isinstance(rows, str):
        return raw
    return {**raw, "validation_rows": raw.get("validation_examples"), "validation_digest": rows}
