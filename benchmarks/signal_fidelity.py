"""Which proxy signal ranks configurations as full training does? Read from committed data only.

For every configuration the studies trained in full (``studies/*/full_training.json``: found
configurations and tuned references, test mean over 3 seeds), this compares the signals the
search could pick by with the full-training test score:

- ``proxy_metric``: the configuration's proxy validation accuracy (one run; for a reference,
  the best member of its learning-rate grid);
- ``proxy_loss``: minus the same run's mean validation loss (every row counts, not only whether
  the argmax is right, so it is less noisy);
- ``posterior_mean``: the GP posterior mean of the proxy accuracy at the configuration, fitted on
  its study's completed trials (found configurations only: a reference is not a trial);
- ``confirmed_2``: the mean of the confirmation stage's runs (``studies/*/confirmation``: 2 new
  seeds at the proxy's steps), where that stage confirmed the configuration;
- ``confirmed_3``: the same runs and the search's own (for a reference, its grid's best member,
  the run its rates were tuned by): 3 seeds, one of them the run that put it forward.

For each: Spearman's rho over all configurations of a task and over its better half (by test
score), and how many there were. Beside the studies' planned configurations (chosen by the
proxy's or the confirmed front, matched to references: near the front), each task's set takes
the trials ``studies/fidelity.py`` drew at random off both fronts and trained in full with one
seed (``studies/fidelity_trainings.json``, where it exists; a trial counts once per study).
Ends with one JSON line:
{"fidelity": {"sst2": {SIGNAL: {"all": rho, "top_half": rho, "n": N}}, "mrpc": {...}}}.

    python benchmarks/signal_fidelity.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "studies"))

from fidelity import TASKS, TRAININGS  # noqa: E402

from autopeft.optim.denoise import posterior_means  # noqa: E402
from autopeft.spec.rate_grids import grid_name  # noqa: E402
from autopeft.store.confirmations import reference_key, trial_key  # noqa: E402
from autopeft.store.study import StudyStore  # noqa: E402

STUDIES = REPO / "studies"
METRIC = "accuracy"
SIGNALS = ("proxy_metric", "proxy_loss", "posterior_mean", "confirmed_2", "confirmed_3")


def posterior_by_trial(study: str) -> dict[int, float]:
    """Trial number -> the GP posterior mean of its proxy accuracy, from the rebuilt study."""
    folder = STUDIES / study / "confirmation"
    if not (folder / "study.db").exists():
        return {}
    store = StudyStore.open(folder, read_only=True)
    done = [t for t in store.study.trials if t.state.name == "COMPLETE"]  # optuna's: with distributions
    distributions = {name: d for t in done for name, d in t.distributions.items()}
    means = posterior_means([t.params for t in done], [t.values[0] for t in done], distributions)
    return {t.number: float(m) for t, m in zip(done, means, strict=True)}


def confirmed_scores(study: str) -> dict[str, list[float]]:
    """``trial N`` / ``reference NAME`` (the grid's name) -> the accuracy of each of its
    confirmation runs (the failed ones left out)."""
    folder = STUDIES / study / "confirmation"
    if not (folder / "study.db").exists():
        return {}
    store = StudyStore.open(folder, read_only=True)
    found = {}
    for key in store.chosen_for_confirmation():
        confirmation = store.confirmation(key)
        scores = [] if confirmation is None else confirmation.scores(METRIC)
        if scores:
            found[grid_name(key) if key.startswith("reference ") else key] = scores
    return found


def confirmed_signals(scores: list[float] | None, search_run: float) -> dict[str, float | None]:
    """The confirmed mean at 2 seeds (the confirmation's runs) and at 3 (with the search's own run);
    None where the configuration was not confirmed, or fewer than 2 confirmation runs finished."""
    if scores is None or len(scores) < 2:
        return {"confirmed_2": None, "confirmed_3": None}
    return {"confirmed_2": statistics.fmean(scores), "confirmed_3": statistics.fmean([*scores, search_run])}


def drawn_rows(task: str, seen: set, posterior: dict[str, dict], confirmed: dict[str, dict]) -> list[dict]:
    """The random trials ``studies/fidelity.py`` trained in full for ``task`` (one seed each), as
    rows like ``signal_rows``'s (``posterior`` and ``confirmed`` by study); a study's trial already
    in ``seen`` is left out."""
    path = STUDIES / TRAININGS
    rows = []
    for entry in json.loads(path.read_text())["tasks"].get(task, []) if path.is_file() else []:
        key = (entry["study"], entry["trial"])
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {"name": f"{entry['study']}:trial {entry['trial']} (drawn)", "test": entry["test_accuracy"]}
            | {"proxy_metric": entry["proxy_accuracy"], "proxy_loss": -entry["proxy_eval_loss"]}
            | {"posterior_mean": posterior.get(entry["study"], {}).get(entry["trial"])}
            | confirmed_signals(
                confirmed.get(entry["study"], {}).get(trial_key(entry["trial"])), entry["proxy_accuracy"]
            )
        )
    return rows


def signal_rows(task: str) -> list[dict]:
    """One row per distinct configuration trained in full for ``task``, with every signal known for it."""
    rows, seen, posteriors, confirmeds = [], set(), {}, {}
    for study in TASKS[task]:
        results = json.loads((STUDIES / study / "results.json").read_text())
        trials = {t["number"]: t for t in results["trials"]}
        references = (
            results["references"] or json.loads((STUDIES / TASKS[task][0] / "results.json").read_text())["references"]
        )  # a methods study is held against its task's LoRA study's references
        posterior = posteriors[study] = posterior_by_trial(study)
        borrowed = {k: v for k, v in confirmed_scores(TASKS[task][0]).items() if k.startswith(reference_key(""))}
        confirmed = confirmeds[study] = borrowed | confirmed_scores(study)  # the LoRA study's references only
        for full in json.loads((STUDIES / study / "full_training.json").read_text())["rows"]:
            if full["kind"] == "found":
                number = int(re.match(r"trial (\d+)", full["name"]).group(1))
                run, key = trials[number], trial_key(number)
                extra = {"posterior_mean": posterior.get(number)}
                seen.add((study, number))
            else:
                members = [r for r in references if grid_name(r["name"]) == full["name"] and r["values"]]
                run, key = max(members, key=lambda r: r["values"][METRIC]), reference_key(full["name"])
                extra = {}
            name = f"{study}:{full['name']}" if full["kind"] == "found" else full["name"]
            if name in seen:
                continue
            seen.add(name)
            values = run["values"]
            rows.append(
                {"name": name, "test": full["test_mean"], "proxy_metric": values[METRIC]}
                | {"proxy_loss": -values["eval_loss"]}
                | extra
                | confirmed_signals(confirmed.get(key), values[METRIC])
            )
    return rows + drawn_rows(task, seen, posteriors, confirmeds)


def rank_agreement(rows: list[dict], signal: str) -> dict:
    known = [r for r in rows if r.get(signal) is not None]
    better = sorted(known, key=lambda r: r["test"], reverse=True)[: max(len(known) // 2, 1)]

    def rho(subset: list[dict]) -> float | None:
        if len(subset) < 3:
            return None
        return round(float(spearmanr([r[signal] for r in subset], [r["test"] for r in subset])[0]), 3)

    return {"all": rho(known), "top_half": rho(better), "n": len(known)}


def main() -> None:
    fidelity = {}
    for task in TASKS:
        rows = signal_rows(task)
        fidelity[task] = {s: rank_agreement(rows, s) for s in SIGNALS}
        for signal, found in fidelity[task].items():
            print(f"{task} {signal}: rho {found['all']} over {found['n']}, {found['top_half']} over the better half")
    print(json.dumps({"fidelity": fidelity}))


if __name__ == "__main__":
    main()
