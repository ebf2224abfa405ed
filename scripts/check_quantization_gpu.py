"""Quantized bases on a CUDA GPU (issue 40, item 1): what the CPU test suite cannot check.

Run it when a GPU machine is at hand (tests never depend on one):

    python scripts/check_quantization_gpu.py [--steps 60] [--out DIR]

For each of ``none`` (bf16 weights, the yardstick), ``4bit`` (NF4, QLoRA's recipe) and ``8bit``:
a two-trial random search of the quickstart space on the packaged MiniLM with ``model:
{path: minilm, dtype: bf16, quantization: Q}``; the base loaded the same way is checked to hold
bitsandbytes' layers; the search's first trial is exported (its recipe must carry the
quantization) and trained with ``autopeft train`` for ``--steps`` steps on the GPU. Fails (exit 1)
when a trial fails, a score is not finite, the layers or the recipe are not quantized, or a
quantized run's validation accuracy after training is more than 0.1 below the bf16 run's. Ends
with one JSON line: {"quantization": {Q: {"trials": [...], "trained_accuracy": x, "layers": name}}}.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import autopeft  # noqa: E402
from autopeft.finetune.recipe import Recipe  # noqa: E402
from autopeft.models.loading import resolve_model_path  # noqa: E402
from autopeft.models.memory import ModelLoading  # noqa: E402

QUANTIZED_LAYERS = {"4bit": "Linear4bit", "8bit": "Linear8bitLt"}
ACCURACY_SLACK = 0.1  # a quantized base may cost a little accuracy, not the task


def quantized_layer_name(quantization: str) -> str:
    """The class name of the base's quantized linear layers, loaded as the search loads them."""
    from transformers import AutoModelForSequenceClassification

    options = ModelLoading(dtype="bf16", quantization=quantization).from_pretrained_options()
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model_path("minilm"), num_labels=2, **options)
    names = {type(module).__name__ for module in model.modules()}
    return QUANTIZED_LAYERS[quantization] if QUANTIZED_LAYERS[quantization] in names else "Linear"


def run(quantization: str, folder: Path, steps: int, device: str = "cuda") -> dict:
    spec = yaml.safe_load((REPO / "examples" / "quickstart.yaml").read_text())
    for split in ("train", "validation"):
        spec["data"][split] = str(REPO / "examples" / spec["data"][split])
    spec |= {
        "name": f"quantized-{quantization}",
        "model": {"path": "minilm", "dtype": "bf16", "quantization": quantization},
        "sampler": "random",
        "trials": 2,
        "confirm": False,
    }
    spec.pop("references")
    result = autopeft.search(spec, study_dir=folder / "study", device=device, progress=False)
    trials = [{"state": t.state, "accuracy": t.values.get("accuracy"), "fail": t.fail_reason} for t in result.trials]
    exported = autopeft.export_trial(result.study_dir, 0, folder / "export")
    recipe = Recipe.read(exported)
    metrics = autopeft.train_exported(exported, folder / "trained", max_steps=steps, device=device)
    return {
        "trials": trials,
        "recipe_quantization": (recipe.model_options or {}).get("quantization", "none"),
        "trained_accuracy": metrics["validation"]["accuracy"],
        "layers": "Linear" if quantization == "none" else quantized_layer_name(quantization),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="autopeft train steps per run")
    parser.add_argument("--out", type=Path, default=None, help="keep the studies here (default: a temp folder)")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("check_quantization_gpu: no CUDA GPU here; this check needs one (the CPU refusal is in the tests)")
    root = args.out or Path(tempfile.mkdtemp(prefix="autopeft-quantization-"))
    found = {q: run(q, root / q, args.steps) for q in ("none", "4bit", "8bit")}
    problems = []
    for quantization, seen in found.items():
        for trial in seen["trials"]:
            if trial["state"] != "complete" or not math.isfinite(trial["accuracy"] or math.nan):
                problems.append(f"{quantization}: a trial ended {trial['state']} ({trial['fail']})")
        if quantization != "none":
            if seen["layers"] != QUANTIZED_LAYERS[quantization]:
                problems.append(f"{quantization}: the base holds {seen['layers']} layers, not bitsandbytes'")
            if seen["recipe_quantization"] != quantization:
                problems.append(f"{quantization}: the recipe says {seen['recipe_quantization']}")
            if seen["trained_accuracy"] < found["none"]["trained_accuracy"] - ACCURACY_SLACK:
                problems.append(f"{quantization}: trained accuracy {seen['trained_accuracy']:.3f} far below bf16's")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(json.dumps({"quantization": found}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
