"""Proxy check on real data: MiniLM + LoRA r=8 on query and value, trained on SST-2.

Trains through autopeft's own trial path (PEFT config from a point, proxy loop) with the
default proxy budget (ProxyBudget's defaults) on ../shared/data/sst2 and scores the whole
validation split (872). Ends with one JSON line:
{"sst2_lora_r8_qv_accuracy": x, "train_seconds": x, ...}.

    python benchmarks/proxy_sst2.py [--steps N --batch-size N --max-length N]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from _common import LORA_R8_QV, load_encoded, reference_point, sst2_source

from autopeft.methods import build_model, count_parameters
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.training import train_proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ProxyBudget()
    parser.add_argument("--steps", type=int, default=default.steps)
    parser.add_argument("--batch-size", type=int, default=default.batch_size)
    parser.add_argument("--max-length", type=int, default=default.max_length)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--head-learning-rate", type=float, default=1e-2)
    args = parser.parse_args()
    budget = ProxyBudget(steps=args.steps, batch_size=args.batch_size, max_length=args.max_length)
    base, train, validation, task = load_encoded(sst2_source(), budget.max_length)
    point = reference_point(LORA_R8_QV, base, args.learning_rate, args.head_learning_rate)
    model = build_model(base, point)
    result = train_proxy(model, train, validation, point.hyperparameters, budget, seed=0, task=task)
    print(f"validation accuracy {result.metrics['accuracy']:.4f} after {result.train_seconds:.1f}s of training")
    print(
        json.dumps(
            {
                "sst2_lora_r8_qv_accuracy": round(result.metrics["accuracy"], 4),
                "train_seconds": round(result.train_seconds, 2),
                "trainable_params": count_parameters(model)[0],
                "budget": {k: v for k, v in asdict(budget).items() if v is not None},
                "learning_rate": args.learning_rate,
                "head_learning_rate": args.head_learning_rate,
            }
        )
    )


if __name__ == "__main__":
    main()
