"""A search space sized from a configuration alone: a 7B-shaped Llama on the meta device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, re, resource, tempfile
from pathlib import Path
from transformers import LlamaConfig
from autopeft.models import discover_architecture
from autopeft.models.loading import load_skeleton
from autopeft.spec.space import SpaceSpec
from autopeft.driver.space import build_space
from autopeft.tasks import ClassificationTask

config = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32, vocab_size=32000, pad_token_id=0)
folder = tempfile.mkdtemp()
config.save_pretrained(folder)  # a model folder with no weights at all: the search reads the configuration first
model = load_skeleton(folder, ClassificationTask(), ["negative", "positive"])
arch = discover_architecture(model)
roles = ["q", "k", "v", "o", "ffn_up", "ffn_gate", "ffn_down"]
space = build_space(SpaceSpec.model_validate(
    {"method": "lora", "modules": roles, "rank": [2, 4, 8, 16], "per_layer_rank": True}), arch)
all_on = {name: True for name in space.dims if name.endswith(tuple(roles))}
params = space.canonical_params(space.center_params() | all_on | {f"L{i}.rank": 8 for i in range(32)})
print(json.dumps({
    "dims": len(space.dims),
    "layers": arch.num_layers,
    "total": sum(p.numel() for p in model.parameters()),
    "head": arch.head_parameters,
    "count": space.trainable_parameters(params),
    "device": str(next(model.parameters()).device),
    # This process's own peak (VmHWM): Linux carries ru_maxrss over exec from the forking
    # process, so a pytest grown past 1 GB would be measured instead.
    "max_rss_mb": (
        int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
        if Path("/proc/self/status").exists()
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ),
}))
"""


def test_a_7b_llama_space_from_its_config_on_the_meta_device():
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO, check=True)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["device"] == "meta" and found["layers"] == 32
    assert found["dims"] == 32 * 7 + 32 + 2, "a bit per (layer, role), a rank per layer, two learning rates"
    d, ffn, vocab = 4096, 11008, 32000
    per_layer = 4 * d * d + 3 * d * ffn + 2 * d  # attention, gated FFN, two RMSNorms
    assert found["total"] == vocab * d + 32 * per_layer + d + 2 * d, "Llama-2-7B's shapes, counted exactly"
    lora = 8 * (4 * (d + d) + 2 * (d + ffn) + (ffn + d))  # rank 8 on the seven projections of a layer
    assert found["count"] == found["head"] + 32 * lora
    assert found["max_rss_mb"] < 1024, f"the driver used {found['max_rss_mb']:.0f} MB"
