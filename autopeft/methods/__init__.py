"""Methods: one module per method, each registering one ``MethodDefinition`` (see ``registry``):
its schema, typed settings, space component, and how it is built and saved.

Importing the package imports every method module below, so the registry is full; ``build``
materializes points, ``io`` saves and loads adapters. A new method is one new module, listed here.
"""

# isort: off
# Each module registers its methods; this order is the order they are listed in (spec errors, docs).
from autopeft.methods import lora, ia3, prefix, norms, adapters, vera  # noqa: F401

# isort: on
from autopeft.methods.build import build_model, count_parameters, is_pure_peft, peft_config_for
from autopeft.methods.io import load_adapter, peft_config_dict, save_adapter, save_peft_model, write_adapter_config
from autopeft.methods.registry import (
    MethodDefinition,
    component_placements,
    definitions,
    describe_component,
    find_method,
    method,
    method_names,
    register,
)

__all__ = [
    "MethodDefinition",
    "build_model",
    "component_placements",
    "count_parameters",
    "definitions",
    "describe_component",
    "find_method",
    "is_pure_peft",
    "load_adapter",
    "method",
    "method_names",
    "peft_config_dict",
    "peft_config_for",
    "register",
    "save_adapter",
    "save_peft_model",
    "write_adapter_config",
]
