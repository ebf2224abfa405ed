"""Cost measurements of a trial: peak training memory and inference latency overhead.

Peak memory on a GPU is the allocator's peak during the trial, less what was allocated
before it (the shared base model). On the CPU there is no such allocator counter, so it is
counted from the tensors themselves: the trial's model weights, the gradients and optimizer
state of its trainable parameters, and the largest set of activations any step saved for
backward. The two agree on what dominates (weights, optimizer state, activations).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

MB = 2**20


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes the tensors' elements take."""
    return sum(t.numel() * t.element_size() for t in tensors)


class MemoryMeter:
    """Tracks the peak memory of one training run on ``device``."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.peak_activations = 0
        self._largest_batch = (0, 0)
        self._step_bytes = 0
        self._seen: set[int] = set()
        self._parameter_storages: set[int] = set()
        if device.type == "cuda":
            self._cuda_start = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
        else:
            self._parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def step(self, batch: dict[str, torch.Tensor]) -> contextlib.AbstractContextManager[None]:
        """Context for one forward and backward pass over ``batch``.

        On the CPU it counts the activations the pass saves, but only for a batch larger than
        any before (activations grow with the batch's shape), so the hooks cost a few steps.
        """
        shape = tuple(batch["input_ids"].shape)
        if self.device.type == "cuda" or shape[0] * shape[1] <= self._largest_batch[0] * self._largest_batch[1]:
            return contextlib.nullcontext()
        self._largest_batch = shape
        self._step_bytes = 0
        self._seen = set()
        return torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. sparse)
            return tensor
        pointer = storage.data_ptr()
        if pointer not in self._seen and pointer not in self._parameter_storages:
            self._seen.add(pointer)
            self._step_bytes += storage.nbytes()
            self.peak_activations = max(self.peak_activations, self._step_bytes)
        return tensor

    def peak_mb(self, optimizer: torch.optim.Optimizer) -> float:
        """Peak training memory so far, in MiB."""
        if self.device.type == "cuda":
            return (torch.cuda.max_memory_allocated(self.device) - self._cuda_start) / MB
        weights = tensor_bytes(self.model.parameters()) + tensor_bytes(self.model.buffers())
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        state = [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
        optimizer_bytes = tensor_bytes(state) if state else 2 * tensor_bytes(trainable)  # Adam: two moments
        return (weights + tensor_bytes(trainable) + optimizer_bytes + self.peak_activations) / MB


def _unpack(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _timed(forward: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    forward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


@torch.no_grad()
def latency_overhead(
    base: nn.Module,
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    device: torch.device,
    repeats: int = 5,
    context: Callable[[], object] | None = None,
) -> float:
    """Inference time of ``model`` over ``base`` on one batch, minus 1 (0.1: 10% slower).

    Forward passes alternate between the two models (after one warm-up each), so drift in
    the machine's speed hits both; the medians are compared.
    """
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    was_training = model.training
    base.eval()
    model.eval()
    times: dict[int, list[float]] = {0: [], 1: []}
    for index in range(repeats + 1):
        for which, candidate in enumerate((base, model)):
            with context() if context else torch.no_grad():
                elapsed = _timed(lambda m=candidate: m(**inputs), device)
            if index > 0:
                times[which].append(elapsed)
    model.train(was_training)
    return statistics.median(times[1]) / statistics.median(times[0]) - 1.0
