"""Methods: each method's space component and how a point becomes a trainable model.

One module per method family (``lora``, ``ia3``, ``prefix``, ``norms``, ``adapters``);
``build`` materializes points, ``io`` saves and loads adapters.
"""

from autopeft.methods.adapters import ParallelAdapterSpace, SerialAdapterSpace
from autopeft.methods.build import build_model, count_parameters, is_pure_peft, peft_config_for
from autopeft.methods.ia3 import IA3Space
from autopeft.methods.io import load_adapter, save_adapter, write_adapter_config
from autopeft.methods.lora import LoraSpace
from autopeft.methods.norms import BiasSpace, LayerNormSpace
from autopeft.methods.prefix import PrefixSpace

COMPONENT_SPACES = {
    space.method: space
    for space in (LoraSpace, IA3Space, PrefixSpace, LayerNormSpace, BiasSpace, SerialAdapterSpace, ParallelAdapterSpace)
}

__all__ = [
    "COMPONENT_SPACES",
    "build_model",
    "count_parameters",
    "is_pure_peft",
    "load_adapter",
    "peft_config_for",
    "save_adapter",
    "write_adapter_config",
]
