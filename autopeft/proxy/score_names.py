"""The importance scores' names (see ``importance``), apart so that the spec validates them
without loading torch."""

from __future__ import annotations

from typing import Literal, get_args

ScoreName = Literal["gradient_energy", "taylor", "fisher", "lora_gradient", "random"]
SCORES: tuple[str, ...] = get_args(ScoreName)
DEFAULT_SCORE: ScoreName = "taylor"
