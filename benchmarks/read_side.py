"""Read side: how long ``autopeft show`` takes on a finished study and on a folder that is not
a study, each as its own process (the interpreter's start and every import count), median of
``--runs`` runs: wall-clock seconds, and the CPU seconds the process used (user and system),
which a busy machine inflates far less. The study is a tiny one this script makes once (a
3-layer BERT of width 32 on the demo data, two trials and a reference), unless ``--study``
names one. Ends with one JSON line: {"show_seconds": {"finished_study": x, "not_a_study": y},
"show_cpu_seconds": {...}}.

    python benchmarks/read_side.py [--study DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "examples" / "data" / "demo-sentiment"
sys.path.insert(0, str(REPO))


def make_study(folder: Path) -> Path:
    """A finished two-trial study on a tiny random BERT (MiniLM's tokenizer), with a reference."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    import autopeft
    from autopeft.models import resolve_model_path

    config = BertConfig(
        hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
    )
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder / "model")
    AutoTokenizer.from_pretrained(resolve_model_path("minilm")).save_pretrained(folder / "model")
    spec = {
        "name": "read-side",
        "model": str(folder / "model"),
        "data": {
            "train": str(DEMO_DATA / "train.jsonl"),
            "validation": str(DEMO_DATA / "validation.jsonl"),
            "text": "sentence",
            "label": "label",
        },
        "space": {"modules": ["q", "v"], "rank": [2, 4]},
        "budget": {"steps": 4, "batch_size": 8, "max_length": 32, "eval_examples": 32},
        "sampler": "random",
        "study_dir": str(folder / "study"),
        "references": {
            "lora-r4-qv": {"modules": ["q", "v"], "rank": 4, "learning_rate": 2e-3, "head_learning_rate": 1e-2}
        },
    }
    return autopeft.search(spec, trials=2).study_dir


def show_seconds(folder: Path, runs: int) -> tuple[float, float, int]:
    """The median wall-clock and CPU seconds of ``autopeft show FOLDER`` in a fresh process, and its exit code."""
    times, cpu, code = [], [], 0
    for _ in range(runs):
        before, start = os.times(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "autopeft.cli", "show", str(folder)], cwd=REPO, capture_output=True, check=False
        )
        times.append(time.perf_counter() - start)
        after = os.times()
        cpu.append(after.children_user - before.children_user + after.children_system - before.children_system)
        code = done.returncode
    return statistics.median(times), statistics.median(cpu), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, help="a finished study folder (default: make a tiny one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        study = args.study or make_study(Path(scratch))
        empty = Path(scratch) / "not-a-study"
        empty.mkdir()
        wall, cpu = {}, {}
        for name, folder in (("finished_study", study), ("not_a_study", empty)):
            wall[name], cpu[name], code = show_seconds(folder, args.runs)
            print(f"show {folder}: {wall[name]:.3f}s, {cpu[name]:.3f}s CPU (median of {args.runs}, exit code {code})")
    print(json.dumps({"show_seconds": _rounded(wall), "show_cpu_seconds": _rounded(cpu)}))


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in seconds.items()}


if __name__ == "__main__":
    main()
