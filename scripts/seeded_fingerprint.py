"""Two seeded searches (mobo on a LoRA placement space with a reference grid; TPE on the hybrid
space with successive halving) on the packaged MiniLM, written as JSON without wall-clock fields:
run it before and after a change that must not change results, and compare the files.

Usage: python scripts/seeded_fingerprint.py OUT_FOLDER
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import DEMO_DATA

import autopeft

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
TIMED = {
    "train_seconds",
    "throughput",
    "latency_overhead",
    "peak_memory_mb",
    "worker",
    "latency_ms",
}
# Fields added after a fingerprint was taken, left out so that old and new fingerprints compare.
LATER = {"confirmed", "confirmed_pareto"}


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if k not in TIMED | LATER}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


data = {
    "train": str(DEMO_DATA / "train.jsonl"),
    "validation": str(DEMO_DATA / "validation.jsonl"),
    "text": "sentence",
    "label": "label",
}
specs = {
    "mobo-lora": {
        "space": {
            "method": "lora",
            "modules": ["q", "v"],
            "per_layer_placement": True,
            "rank": [1, 2, 4],
            "per_layer_rank": True,
        },
        "sampler": "mobo",
        "trials": 14,
        "references": {
            "r2": {
                "method": "lora",
                "modules": ["q", "v"],
                "rank": 2,
                "learning_rate": [1e-3, 3e-3],
                "head_learning_rate": 3e-3,
            }
        },
    },
    "tpe-hybrid": {
        "space": "hybrid",
        "sampler": "tpe",
        "trials": 8,
        "budget": {
            "steps": 16,
            "batch_size": 8,
            "max_length": 32,
            "eval_examples": 64,
            "successive_halving": {},
        },
    },
}
results = {}
for name, extra in specs.items():
    spec = {
        "name": name,
        "model": "minilm",
        "data": data,
        "seed": 3,
        "confirm": False,  # the search alone: the confirmation stage came later
        "budget": {"steps": 16, "batch_size": 8, "max_length": 32, "eval_examples": 64},
        "study_dir": str(out / name),
        **extra,
    }
    r = autopeft.search(spec)
    d = r.to_dict()
    d.pop("study_dir", None)
    results[name] = clean(d)
(out / "fingerprint.json").write_text(json.dumps(results, indent=1, sort_keys=True, default=str))
print("ok", {k: len(v["trials"]) for k, v in results.items()})
