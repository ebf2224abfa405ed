"""Optimizer benchmark: mobo against optuna's random, TPE and NSGA-II on a synthetic PEFT problem.

The problem (autopeft.testing.synthetic) is the AutoPEFT paper's space on a 12-layer,
768-wide model: three module widths hidden/2^k (k = 10: off) and one bit per layer; its
exact Pareto front is found by enumerating all 5.4M points. Hypervolume is measured on
the true (noise-free) values of the evaluated points, with accuracy against log10(1 +
trainable parameters), as a fraction of the true front's hypervolume (reference point:
chance accuracy 0.5 and the largest parameter count). Samplers come from the same factory
the CLI uses.

    python benchmarks/optimizer.py            # 5 seeds, 80 trials (about 20 minutes on 2 cores)
    python benchmarks/optimizer.py --quick    # 2 seeds, 40 trials: a smoke run

Ends with one JSON line: hv (means over seeds at 40 and 80 trials, per sampler),
suggest_seconds (mobo's median suggestion time at 20, 50 and 200 observations) and
multi_fidelity: hv_fraction and step_fraction of mobo + successive halving given half the
training steps of mobo's full-fidelity run, held against that run's final hypervolume
(--trials trials); "at_trials" repeats the comparison against the run at 40 trials.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autopeft.objectives import objectives_for  # noqa: E402
from autopeft.optim.fidelity import RUNGS, RungBoard, SuccessiveHalving, best_known_values  # noqa: E402
from autopeft.optim.hypervolume import hypervolume  # noqa: E402
from autopeft.optim.samplers import make_sampler  # noqa: E402
from autopeft.testing.synthetic import SyntheticPeftProblem  # noqa: E402

SAMPLERS = ("mobo", "random", "tpe", "nsga2")
OBJECTIVES = objectives_for(["accuracy", "trainable_params"])


def log_params(count: float) -> float:
    return math.log10(1 + count)


class Scorer:
    """Hypervolume fraction of the true front, in (accuracy, -log10(1 + params)) space."""

    def __init__(self, problem: SyntheticPeftProblem):
        self.problem = problem
        max_params = problem.num_layers * problem._module_terms(0, 0, 0)[0]
        self.ref = np.array([0.5, -log_params(max_params)])
        front = problem.true_front
        self.true_hv = hypervolume(np.stack([front[:, 0], -np.log10(1 - front[:, 1])], axis=1), self.ref)

    def __call__(self, points: list[dict]) -> float:
        values = [self.problem.true_values(p) for p in points]
        return hypervolume(np.array([[a, -log_params(c)] for a, c in values]), self.ref) / self.true_hv


def sampler_for(
    name: str, problem: SyntheticPeftProblem, seed: int, trials: int, values_of=None
) -> optuna.samplers.BaseSampler:
    return make_sampler(
        name,
        seed,
        trials,
        OBJECTIVES,
        trainable_parameters=problem.trainable_parameters,
        canonicalize=problem.canonical_params,
        values_of=values_of,
    )


def run_study(name: str, problem: SyntheticPeftProblem, seed: int, trials: int) -> tuple[list[dict], list[float]]:
    """Evaluated points in order, and the time of each suggestion."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler_for(name, problem, seed, trials))
    points, seconds = [], []
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask()
        params = problem.suggest(trial)
        seconds.append(time.perf_counter() - started)
        study.tell(trial, list(problem.evaluate(params, rng)))
        points.append(params)
    return points, seconds


def compare(problem: SyntheticPeftProblem, seeds: int, trials: int, checkpoints: list[int]) -> dict:
    scorer = Scorer(problem)
    hv: dict[str, dict[str, list[float]]] = {name: {str(k): [] for k in checkpoints} for name in SAMPLERS}
    for seed in range(seeds):
        for name in SAMPLERS:
            started = time.perf_counter()
            points, _ = run_study(name, problem, seed, trials)
            for k in checkpoints:
                hv[name][str(k)].append(scorer(points[:k]))
            print(
                f"seed {seed} {name:>6}: "
                + "  ".join(f"{k}:{hv[name][str(k)][-1]:.4f}" for k in checkpoints)
                + f"  ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    return hv


def multi_fidelity_run(problem: SyntheticPeftProblem, seed: int, budget: float, schedule: SuccessiveHalving) -> tuple:
    """mobo + multi-objective successive halving until ``budget`` full trainings' worth of
    steps is spent, with StudyRun's own rung decision and learning rule. Returns (fully
    trained points, steps used, in full trainings)."""
    full_steps = 90
    rng = np.random.default_rng(seed)
    study = optuna.create_study(
        directions=["maximize", "minimize"],
        sampler=sampler_for(
            "mobo", problem, seed, int(budget), values_of=partial(best_known_values, objectives=OBJECTIVES)
        ),
    )
    used, finished = 0.0, []
    board = RungBoard(schedule, OBJECTIVES)
    first = schedule.rungs(full_steps)[0] / full_steps
    while used + first <= budget:
        trial = study.ask()
        params = problem.suggest(trial)
        previous = 0.0
        for step in schedule.rungs(full_steps):
            fraction = step / full_steps
            if used + fraction - previous > budget:  # the budget is spent: stop here
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
            accuracy, count = problem.evaluate(params, rng, fraction)
            used += fraction - previous
            previous = fraction
            if step == full_steps:
                study.tell(trial, [accuracy, count])
                finished.append(params)
                break
            scores = {"accuracy": accuracy, "trainable_params": count}
            trial.set_user_attr(RUNGS, {**trial.user_attrs.get(RUNGS, {}), str(step): scores})
            if not board.judge(step, scores):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
    return finished, used


def multi_fidelity_against(
    problem: SyntheticPeftProblem, schedule: SuccessiveHalving, trials: int, full_hv: list[float]
) -> dict:
    """Mean hv_fraction and step_fraction of mobo + successive halving given half the steps
    of full-fidelity runs of ``trials`` trainings that reached ``full_hv`` (one per seed)."""
    scorer, fractions, steps = Scorer(problem), [], []
    for seed, reached in enumerate(full_hv):
        points, used = multi_fidelity_run(problem, seed, 0.5 * trials, schedule)
        fractions.append(scorer(points) / reached)
        steps.append(used / trials)
        print(
            f"seed {seed} multi-fidelity: {len(points)} fully trained, {used:.1f} of {trials} full trainings' steps, "
            f"hypervolume {fractions[-1]:.3f} of full fidelity's at {trials} trials",
            flush=True,
        )
    return {
        "hv_fraction": round(statistics.mean(fractions), 4),
        "hv_fraction_min": round(min(fractions), 4),
        "step_fraction": round(statistics.mean(steps), 4),
    }


def suggest_latency(problem: SyntheticPeftProblem, sizes: list[int], repeats: int = 5) -> dict[str, float]:
    """Median seconds of a mobo suggestion with N observations (after one warm-up suggestion)."""
    out = {}
    for size in sizes:
        rng = np.random.default_rng(size)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler_for("random", problem, 0, 0))
        for _ in range(size):
            trial = study.ask()
            study.tell(trial, list(problem.evaluate(problem.suggest(trial), rng)))
        study.sampler = sampler_for("mobo", problem, 0, size)
        seconds = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            trial = study.ask()
            params = problem.suggest(trial)
            seconds.append(time.perf_counter() - started)
            study.tell(trial, list(problem.evaluate(params, rng)))
        out[str(size)] = statistics.median(seconds[1:])
        print(
            f"mobo suggestion with {size} observations: median {out[str(size)]:.2f}s (first, cold: {seconds[0]:.2f}s)",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=80)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 trials, latency at 20 and 50 only")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials = 2, 40
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    problem = SyntheticPeftProblem()
    checkpoints = [k for k in (10, 20, 40, 60, 80) if k <= args.trials]
    hv = compare(problem, args.seeds, args.trials, checkpoints)
    means = {name: {k: statistics.mean(v) for k, v in per.items()} for name, per in hv.items()}
    print("\nmean hypervolume fraction over seeds:")
    print("sampler " + "".join(f"{k:>9}" for k in checkpoints))
    for name in SAMPLERS:
        print(f"{name:>7} " + "".join(f"{means[name][str(k)]:9.4f}" for k in checkpoints))

    latency = suggest_latency(problem, [20, 50] if args.quick else [20, 50, 200])

    # Multi-fidelity: mobo + successive halving on half the steps of mobo's full-fidelity run,
    # against its final hypervolume and, as a harder check, against its 40-trial one.
    last = str(args.trials)
    half = str(40) if 40 <= args.trials else last
    schedule = SuccessiveHalving()
    fidelity = {
        k: multi_fidelity_against(problem, schedule, int(k), hv["mobo"][k]) for k in sorted({half, last}, key=int)
    }
    figures = {
        "hv": {name: {k: round(means[name][k], 4) for k in (half, last)} for name in SAMPLERS},
        "suggest_seconds": {k: round(v, 3) for k, v in latency.items()},
        "ratios": {
            "mobo40_over_random_final": round(means["mobo"][half] / means["random"][last], 4),
            "mobo40_over_tpe40": round(means["mobo"][half] / means["tpe"][half], 4),
            "mobo40_over_nsga2_40": round(means["mobo"][half] / means["nsga2"][half], 4),
        },
        "multi_fidelity": {
            **fidelity[last],
            "full_fidelity_trials": args.trials,
            "at_trials": fidelity,
            "schedule": f"successive halving, eta {schedule.eta}, rungs at "
            + ", ".join(f"{r / 90:.3g}" for r in schedule.rungs(90))
            + " of the steps",
        },
        "seeds": args.seeds,
        "trials": args.trials,
        "hv_measure": "fraction of the true front's hypervolume; accuracy vs log10(1+params)",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
