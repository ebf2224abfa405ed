"""Importance pruning check: do gradient-energy scores point at the modules worth adapting?

On MiniLM and ../shared/data/sst2, scores all 36 placeable modules (q, k, v, o, FFN up and
down in each of 6 layers) the way a study with ``importance:`` does (16 batches after 100 steps
of head warm-up), then trains LoRA r=4 with the default proxy on the 6 top-scored modules,
the 6 bottom-scored ones, 3 random sets of 6 from all modules and 3 from the half that
pruning keeps (``keep: 0.5``), through autopeft's trial path. If the scores are worth
pruning by, random sets from the kept half beat random sets from all, and bottom trails.
Ends with one JSON line: {"accuracy": {"top": x, "bottom": x, "random_median": x,
"kept_random_median": x}, "scoring_seconds": x, ...}.

    python benchmarks/importance.py [--placed 6] [--random-sets 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict

from _common import load_encoded, sst2_source

from autopeft.budget import ProxyBudget
from autopeft.importance import gradient_energy, least_important
from autopeft.methods import count_parameters
from autopeft.models import discover_architecture
from autopeft.search_space import SpaceSpec, build_space
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec import ImportanceSpec
from autopeft.trial import TrialContext, run_trial

RANK, LORA_LR, HEAD_LR = 4, 2e-3, 1e-2
ROLES = ["q", "k", "v", "o", "ffn_up", "ffn_down"]


def lora_on(modules: list[str]) -> Point:
    settings = {"targets": dict.fromkeys(modules, RANK), "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0}
    return Point.single("lora", settings, Hyperparameters(LORA_LR, HEAD_LR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--placed", type=int, default=6, help="modules each compared configuration adapts")
    parser.add_argument("--random-sets", type=int, default=3)
    args = parser.parse_args()
    budget, prune = ProxyBudget(), ImportanceSpec()
    base, train, validation, task = load_encoded(sst2_source(), budget.max_length)
    arch = discover_architecture(base)
    space = build_space(SpaceSpec.model_validate({"method": "lora", "modules": ROLES}), arch, base.config)
    modules = space.placeable_modules()

    started = time.perf_counter()
    scores = gradient_energy(
        base, modules, train, task, prune.batches, budget.batch_size, prune.head_warmup_steps, seed=0
    )
    scoring_seconds = time.perf_counter() - started
    where = {arch.module_name(layer, role): (layer, role) for layer in range(arch.num_layers) for role in ROLES}
    by_role = defaultdict(list)
    for name, value in scores.items():
        by_role[where[name][1]].append(value)
    print(f"scored {len(modules)} modules in {scoring_seconds:.1f}s; mean score by role:")
    for role in ROLES:
        print(f"  {role:9s} {statistics.mean(by_role[role]):.3e}")

    ranked = sorted(modules, key=lambda name: -scores[name])
    sets = {"top": ranked[: args.placed], "bottom": ranked[-args.placed :]}
    kept = [name for name in modules if name not in least_important(scores, prune.keep)]
    draw = random.Random(0)
    for index in range(args.random_sets):
        sets[f"random{index}"] = draw.sample(modules, args.placed)
    for index in range(args.random_sets):
        sets[f"kept{index}"] = draw.sample(kept, args.placed)
    context = TrialContext(base, "minilm", count_parameters(base)[1], train, validation, budget, task)
    accuracy, params = {}, {}
    for name, chosen in sets.items():
        outcome = run_trial(lora_on(chosen), context, seed=0)
        accuracy[name], params[name] = outcome.measurements["accuracy"], outcome.trainable_params
        picked = ", ".join(f"L{layer}.{role}" for layer, role in sorted(where[n] for n in chosen))
        print(f"{name:8s} accuracy {accuracy[name]:.4f}, {params[name]:>7,} params, {outcome.train_seconds:5.1f}s")
        print(f"         on {picked}")
    random_accuracy = [accuracy[name] for name in sets if name.startswith("random")]
    kept_accuracy = [accuracy[name] for name in sets if name.startswith("kept")]
    figures = {
        "accuracy": {
            "top": round(accuracy["top"], 4),
            "bottom": round(accuracy["bottom"], 4),
            "random_median": round(statistics.median(random_accuracy), 4),
            "kept_random_median": round(statistics.median(kept_accuracy), 4),
        },
        "trainable_params": {"top": params["top"], "bottom": params["bottom"]},
        "random_accuracy": [round(a, 4) for a in random_accuracy],
        "kept_random_accuracy": [round(a, 4) for a in kept_accuracy],
        "scoring_seconds": round(scoring_seconds, 1),
        "modules": len(modules),
        "placed": args.placed,
        "mean_score_by_role": {role: float(f"{statistics.mean(by_role[role]):.4g}") for role in ROLES},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
