"""Read side: how long ``autopeft show`` takes on a finished study and on a folder that is not
a study, each as its own process (the interpreter's start and every import count), median of
``--runs`` runs. The study is a tiny one this script makes once (a 3-layer BERT of width 32 on
the demo data, two trials and a reference), unless ``--study`` names one. Ends with one JSON
line: {"show_seconds": {"finished_study": x, "not_a_study": y}}.

    python benchmarks/read_side.py [--study DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
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


def show_seconds(folder: Path, runs: int) -> tuple[float, int]:
    """The median wall-clock seconds of ``autopeft show FOLDER`` in a fresh process, and its exit code."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "autopeft.cli", "show", str(folder)], cwd=REPO, capture_output=True, check=False
        )
        times.append(time.perf_counter() - start)
        code = done.returncode
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, help="a finished study folder (default: make a tiny one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        study = args.study or make_study(Path(scratch))
        finished, code = show_seconds(study, args.runs)
        print(f"show {study}: {finished:.3f}s (median of {args.runs}, exit code {code})")
        empty = Path(scratch) / "not-a-study"
        empty.mkdir()
        not_a_study, code = show_seconds(empty, args.runs)
        print(f"show NOT_A_STUDY: {not_a_study:.3f}s (median of {args.runs}, exit code {code})")
    print(json.dumps({"show_seconds": {"finished_study": round(finished, 3), "not_a_study": round(not_a_study, 3)}}))


if __name__ == "__main__":
    main()
