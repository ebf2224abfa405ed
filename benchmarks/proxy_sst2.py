"""Proxy check on real data: MiniLM + LoRA r=8 on query and value, trained on SST-2.

Trains through autopeft's own trial path (PEFT config from a point, proxy loop) on a
seeded subset of ../shared/data/sst2 and scores the whole validation split (872).
Ends with one JSON line: {"sst2_lora_r8_qv_accuracy": x, "train_seconds": x, ...}.

    python benchmarks/proxy_sst2.py [--steps 100 --batch-size 32 --max-length 64]
"""

from __future__ import annotations

import argparse
import json

from _common import load_encoded, lora_qv_point, sst2_spec

from autopeft.methods import build_model, count_parameters
from autopeft.spec import BudgetSpec
from autopeft.training import train_proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    # 1e-3 / 5e-3 gave 0.783 at this budget; 2e-3 / 1e-2 gave 0.803 (one run each, 2 cores).
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--head-learning-rate", type=float, default=1e-2)
    args = parser.parse_args()
    budget = BudgetSpec(steps=args.steps, batch_size=args.batch_size, max_length=args.max_length)
    base, train, validation, task = load_encoded(
        sst2_spec(), budget.max_length, train_examples=args.steps * args.batch_size
    )
    point = lora_qv_point(8, 6, args.learning_rate, args.head_learning_rate)
    model = build_model(base, point)
    result = train_proxy(model, train, validation, point.hyperparameters, budget, seed=0, task=task)
    print(f"validation accuracy {result.metrics['accuracy']:.4f} after {result.train_seconds:.1f}s of training")
    print(
        json.dumps(
            {
                "sst2_lora_r8_qv_accuracy": round(result.metrics["accuracy"], 4),
                "train_seconds": round(result.train_seconds, 2),
                "trainable_params": count_parameters(model)[0],
                "budget": budget.model_dump(exclude_none=True, exclude={"successive_halving"}),
                "learning_rate": args.learning_rate,
                "head_learning_rate": args.head_learning_rate,
            }
        )
    )


if __name__ == "__main__":
    main()
