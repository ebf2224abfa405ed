"""Methods: turning a point into a PEFT config and a trainable model."""

from autopeft.methods.build import build_peft_model, count_parameters, peft_config_for

__all__ = ["build_peft_model", "count_parameters", "peft_config_for"]
