"""Importance scores against what modules are worth alone, and pruning's effect on a search.

MiniLM on SST-2 and MRPC (../shared/data), each with a validation split carved from train
(seeded; the published dev split is not read), the default proxy.

Part 1, modules. Every placeable module (q, k, v, o, FFN up and down in 6 layers: 36) is
trained alone with LoRA r=4 (lr 2e-3, head 1e-2), once per ``--module-seeds`` seed. Each
score of ``autopeft.proxy.importance.SCORES`` rates the 36 modules the way ``importance:`` does
(16 batches after 100 head warm-up steps); reported: each score's Spearman correlation with
the modules' mean accuracy, beside the correlation of plain parameter count. Matched-size
controls: the top-k and bottom-k modules by each score, trained together, against
``--random-sets`` random k-sets with the same parameter count (the same number of FFN
modules), so size alone cannot explain a gap; and the mean accuracy alone of the half that
``importance:`` (keep 0.5) would keep against the half it would switch off.

Part 2, search. mobo on the 36-bit LoRA space of studies/sst2-lora (ranks 2-16, both
learning rates searched, no references), ``--trials`` trials, with ``importance: {score:
--score, keep: 0.5}`` ("prune"; --score defaults to the package default, Taylor), with none
("none"), with random scores ("random_prune"), and with the scores as a prior for the first
trials' placements (``use: prior``, "prior", run only when ``--variants`` names it),
``--seeds`` seeds each; hypervolume (the study's own geometry and fixed reference point, the
same for every variant of a task) after 8, 16 and 24 trials, median over seeds. Each search is an autopeft study under
benchmarks/results/importance/, and part 1 keeps each training in
benchmarks/results/importance/TASK-modules.json, so a stopped run resumes where it was.

Ends with one JSON line: {"spearman": {"sst2": {SCORE: rho, ..., "params": rho, "random_draws_p50_p95":
[median, p95] of the random score over many draws}, "mrpc": {...}},
"search": {"sst2": {"prune": {"8": hv, "16": hv, "24": hv}, "none": {...}, "random_prune": {...},
"prior": {...}}, "mrpc": {...}}, "matched": {...}, "search_seeds": {"sst2": {VARIANT: [each seed's hv],
...}, ...}, "settings": {the arguments it ran with}} (a part or variant not run is left out).

    python benchmarks/importance.py                      # everything (hours of CPU; kept runs are reused)
    python benchmarks/importance.py --part modules --tasks sst2
    python benchmarks/importance.py --part search --tasks sst2 --variants prior
    python benchmarks/importance.py --part search --tasks sst2 --variants none random_prune
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
from pathlib import Path

from _common import REPO, SHARED_DATA
from scipy.stats import spearmanr

import autopeft
from autopeft.driver.prepare import module_scores, prepare_study
from autopeft.proxy.importance import DEFAULT_SCORE, SCORES, least_important, random_scores
from autopeft.proxy.trial import run_trial
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec import ImportanceSpec, build_spec

RESULTS = REPO / "benchmarks" / "results" / "importance"
RANK, LORA_LR, HEAD_LR = 4, 2e-3, 1e-2
RANDOM_DRAWS = 1000  # random scores' Spearman, to show what chance gives on these 36 modules
ROLES = ["q", "k", "v", "o", "ffn_up", "ffn_down"]
CHECKPOINTS = (8, 16, 24)
TASKS = {
    "sst2": {"text": "sentence", "validation_fraction": 0.015},  # 910 rows, as studies/sst2-lora
    "mrpc": {"text": "sentence1", "text_pair": "sentence2", "validation_fraction": 0.15},  # 387 rows
}


STEPS: int | None = None  # --steps: a shorter proxy, for a quick look (not for the figures)


def in_repo(path: Path) -> str:
    """``path`` relative to the checkout (main() runs from there), so a kept study's spec names
    the same folder in every clone beside ../shared and a search started in one resumes in another."""
    return os.path.relpath(path, REPO)


def spec_for(task: str, name: str, trials: int, seed: int, importance: dict | None = None) -> dict:
    """The 36-bit LoRA study of ``task`` (as studies/sst2-lora, without references)."""
    columns = dict(TASKS[task])
    fraction = columns.pop("validation_fraction")
    spec = {
        "name": name,
        "model": "minilm",
        "data": {"train": str(SHARED_DATA / task / "train.jsonl"), "validation_fraction": fraction, **columns},
        "space": {
            "method": "lora",
            "modules": ROLES,
            "per_layer_placement": True,
            "rank": [2, 4, 8, 16],
            "learning_rate": {"low": 3e-4, "high": 1e-2, "log": True},
            "head_learning_rate": {"low": 3e-3, "high": 1e-2, "log": True},
        },
        "trials": trials,
        "sampler": "mobo",
        "seed": seed,
        "confirm": False,  # it compares what the searches found, at each trial count
        "study_dir": in_repo(RESULTS / name),
    }
    if importance is not None:
        spec["importance"] = importance
    if STEPS is not None:
        spec["budget"] = {"steps": STEPS}
        spec["name"] += f"-steps{STEPS}"
        spec["study_dir"] += f"-steps{STEPS}"
    return spec


def lora_on(modules: list[str]) -> Point:
    settings = {"targets": dict.fromkeys(modules, RANK), "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0}
    return Point.single("lora", settings, Hyperparameters(LORA_LR, HEAD_LR))


class Trained:
    """Proxy trainings of fixed module sets, kept in a JSON file so a rerun skips them."""

    def __init__(self, path: Path, context):
        self.path, self.context = path, context
        self.done = json.loads(path.read_text()) if path.exists() else {}

    def accuracy(self, key: str, modules: list[str], seed: int) -> tuple[float, int]:
        key = f"{key}|seed{seed}"
        if key not in self.done:
            outcome = run_trial(lora_on(modules), self.context, seed=seed)
            self.done[key] = [outcome.measurements["accuracy"], outcome.trainable_params]
            self.path.write_text(json.dumps(self.done, indent=1))
            print(f"  {key}: accuracy {self.done[key][0]:.4f}, {self.done[key][1]:,} params", flush=True)
        return tuple(self.done[key])


def module_check(task: str, seeds: list[int], placed: int, random_sets: int) -> tuple[dict, dict]:
    """(Spearman per score and for parameter count, matched-size comparisons) on ``task``."""
    spec = build_spec(spec_for(task, f"{task}-modules", 1, 0))
    prepared = prepare_study(spec, RESULTS / "token-cache")
    context, options = prepared.context, ImportanceSpec()
    modules = prepared.space.placeable_modules()
    trained = Trained(RESULTS / f"{spec.name}.json", context)
    alone = {}
    for name in modules:
        runs = [trained.accuracy(f"{task}|{name}", [name], seed) for seed in seeds]
        alone[name] = (statistics.mean(a for a, _ in runs), runs[0][1])
    accuracy = [alone[name][0] for name in modules]
    rho = {"params": round(float(spearmanr([alone[n][1] for n in modules], accuracy).statistic), 3)}
    matched = {}
    arch = prepared.arch
    ffn = {arch.module_name(layer, role) for layer in range(arch.num_layers) for role in ("ffn_up", "ffn_down")}
    for score in SCORES:
        scores = module_scores(context, modules, options.model_copy(update={"score": score}), seed=0)
        rho[score] = round(float(spearmanr([scores[n] for n in modules], accuracy).statistic), 3)
        if score == "random":  # one draw is a weak control: also the spread of many (they cost nothing)
            rho["random_draws_p50_p95"] = random_spearman(modules, accuracy, RANDOM_DRAWS)
        ranked = sorted(modules, key=lambda n: -scores[n])
        sets = {"top": ranked[:placed], "bottom": ranked[-placed:]}
        row = kept_vs_switched_off(scores, {n: alone[n][0] for n in modules}, options.keep)
        for label, chosen in sets.items():
            row[label] = trained.accuracy(f"{task}|{score}|{label}|{','.join(sorted(chosen))}", chosen, 0)[0]
            draw, controls = random.Random(f"{task}{score}{label}"), []
            count_ffn = sum(name in ffn for name in chosen)
            for _ in range(random_sets):
                same_size = draw.sample(sorted(ffn), count_ffn) + draw.sample(
                    sorted(set(modules) - ffn), placed - count_ffn
                )
                controls.append(trained.accuracy(f"{task}|random|{','.join(sorted(same_size))}", same_size, 0)[0])
            row[f"{label}_matched_random_median"] = statistics.median(controls)
        matched[score] = {key: round(value, 4) for key, value in row.items()}
        print(f"{task} {score}: spearman {rho[score]:+.3f}; {matched[score]}", flush=True)
    print(f"{task} params: spearman {rho['params']:+.3f}", flush=True)
    return rho, matched


def kept_vs_switched_off(scores: dict[str, float], accuracy: dict[str, float], keep: float) -> dict[str, float]:
    """Mean accuracy alone of the modules ``importance:`` would keep, and of those it would switch off."""
    switched_off = least_important(scores, keep)
    return {
        "kept_alone_mean": statistics.mean(accuracy[n] for n in scores if n not in switched_off),
        "switched_off_alone_mean": statistics.mean(accuracy[n] for n in switched_off),
    }


def random_spearman(modules: list[str], accuracy: list[float], draws: int) -> list[float]:
    """Median and 95th percentile of the random score's Spearman over ``draws`` seeded draws."""
    found = []
    for seed in range(draws):
        scores = random_scores(modules, seed)
        found.append(float(spearmanr([scores[n] for n in modules], accuracy).statistic))
    found.sort()
    return [round(found[len(found) // 2], 3), round(found[int(0.95 * len(found))], 3)]


def hypervolume_at(result: autopeft.SearchResult, trials: int) -> float:
    """The hypervolume of the completed trials among the first ``trials`` finished ones (a trial
    a killed run left behind ran again under a later number, and is not counted twice)."""
    counted = sorted(t.number for t in result.trials if t.counts)
    if len(counted) < trials:
        raise ValueError(f"{result.study_dir}: {len(counted)} trials, fewer than {trials}")
    values = [value for number, value in result.hypervolume_history if number <= counted[trials - 1]]
    return values[-1] if values else 0.0


VARIANTS = ("prune", "none", "random_prune", "prior")


def search_check(task: str, seeds: list[int], trials: int, score: str, chosen: list[str]) -> tuple[dict, dict]:
    """(median hypervolume per variant at each checkpoint, each seed's): the medians hide how
    far apart the seeds are, and the seeds are what says whether a gap is noise."""
    variants = {
        "prune": {"score": score, "keep": 0.5},
        "none": None,
        "random_prune": {"score": "random", "keep": 0.5},
        "prior": {"score": score, "use": "prior"},  # the softer use: lean the first trials, switch nothing off
    }
    found, per_seed = {}, {}
    for variant in chosen:
        importance = variants[variant]
        curves = []
        label = f"{variant}-{score}" if variant in ("prune", "prior") else variant  # one study per score
        for seed in seeds:
            result = autopeft.search(spec_for(task, f"{task}-{label}-s{seed}", trials, seed, importance))
            curves.append({str(n): hypervolume_at(result, n) for n in CHECKPOINTS if n <= trials})
            print(f"{task} {variant} seed {seed}: {curves[-1]}", flush=True)
        found[variant] = {n: round(statistics.median(c[n] for c in curves), 4) for n in curves[0]}
        per_seed[variant] = [{n: round(value, 4) for n, value in c.items()} for c in curves]
    return found, per_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["modules", "search", "all"], default="all")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["sst2", "mrpc"])
    parser.add_argument(
        "--module-seeds", type=int, nargs="+", default=[0], help="seeds of each module training (the figures: one)"
    )
    parser.add_argument("--placed", type=int, default=6, help="modules in each top, bottom and matched set")
    parser.add_argument("--random-sets", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search seeds")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=[v for v in VARIANTS if v != "prior"],
        help="search variants to run (prior, the softer use, lost to none on every SST-2 seed: asked for by name)",
    )
    parser.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE, help="the score 'prune' and 'prior' use")
    parser.add_argument("--steps", type=int, help="proxy steps instead of the default proxy's (a quick look only)")
    args = parser.parse_args()
    global STEPS
    STEPS = args.steps
    RESULTS.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)  # the studies' folders are relative to the checkout
    figures: dict = {"spearman": {}, "matched": {}, "search": {}, "search_seeds": {}}
    for task in args.tasks:
        if args.part in ("modules", "all"):
            figures["spearman"][task], figures["matched"][task] = module_check(
                task, args.module_seeds, args.placed, args.random_sets
            )
        if args.part in ("search", "all"):
            figures["search"][task], figures["search_seeds"][task] = search_check(
                task, args.seeds, args.trials, args.score, args.variants
            )
    figures["settings"] = {k: v for k, v in vars(args).items() if k != "part"}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
