"""Trial overhead: the proxy training loop's throughput against a bare PyTorch loop.

Both train the same PEFT model (MiniLM, LoRA r=8 on query and value) on the same batches
in the same order and score the same 32 validation rows, alternating, three times each;
the wall-clock times of the whole calls are compared (medians), so the proxy's set-up,
divergence checks and memory accounting all count as overhead. Data: SST-2 from
../shared/data. Ends with one JSON line: {"throughput_ratio": proxy / bare, ...}.

    python benchmarks/trial_overhead.py [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from _common import LORA_R8_QV, load_encoded, reference_point, sst2_source

from autopeft.methods import build_model
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.training import batch_indices, param_groups, train_proxy


def bare_loop(model, train, validation, hp, budget, seed) -> float:
    """Seconds for ``budget.steps`` plain AdamW steps over the batches train_proxy would draw,
    and a forward pass over the validation rows."""
    from transformers import get_linear_schedule_with_warmup

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(param_groups(model, hp, budget.weight_decay))
    schedule = get_linear_schedule_with_warmup(optimizer, int(budget.warmup_ratio * budget.steps), budget.steps)
    model.train()
    started = time.perf_counter()
    for indices in batch_indices(train.lengths(), budget.batch_size, budget.steps, generator):
        model(**train.batch(indices)).loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        model(**validation.batch(range(len(validation))))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    budget = ProxyBudget(steps=args.steps, batch_size=32, max_length=64, eval_examples=32)
    base, train, validation, task = load_encoded(sst2_source(), budget.max_length, train_examples=4096)
    point = reference_point(LORA_R8_QV, base, 1e-3, 5e-3)
    proxy, bare = [], []
    for repeat in range(args.repeats):
        model = build_model(base, point)
        started = time.perf_counter()
        train_proxy(model, train, validation, point.hyperparameters, budget, seed=repeat, task=task)
        proxy.append(time.perf_counter() - started)
        model = build_model(base, point)
        bare.append(bare_loop(model, train, validation.head(32), point.hyperparameters, budget, seed=repeat))
        print(
            f"repeat {repeat}: proxy {args.steps / proxy[-1]:.2f} steps/s, bare {args.steps / bare[-1]:.2f} steps/s",
            flush=True,
        )
    proxy_rate, bare_rate = args.steps / statistics.median(proxy), args.steps / statistics.median(bare)
    print(
        json.dumps(
            {
                "throughput_ratio": round(proxy_rate / bare_rate, 4),
                "proxy_steps_per_second": round(proxy_rate, 3),
                "bare_steps_per_second": round(bare_rate, 3),
                "steps": args.steps,
                "repeats": args.repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
