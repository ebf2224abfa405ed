"""Large models in less memory: the weights' dtype and 4- or 8-bit quantization (QLoRA-style,
through bitsandbytes), as plain values the loader turns into ``from_pretrained`` options.

Quantization needs a CUDA GPU and bitsandbytes: without them it is refused in one line before
anything loads, naming ``model.quantization``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from autopeft.errors import SpecError

Dtype = Literal["auto", "fp32", "bf16", "fp16"]
Quantization = Literal["none", "4bit", "8bit"]
TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class ModelLoading:
    """How the base model's weights are held: ``dtype`` (auto: as the checkpoint stores them)
    and ``quantization`` (none, 4bit NF4 with bf16 compute, or 8bit)."""

    dtype: Dtype = "auto"
    quantization: Quantization = "none"

    @property
    def quantized(self) -> bool:
        return self.quantization != "none"

    def check_backend(self) -> None:
        """Refuse quantization where no backend runs it (no CUDA GPU, or no bitsandbytes)."""
        if not self.quantized:
            return
        import torch

        if not torch.cuda.is_available():
            raise SpecError(
                "model.quantization",
                f"{self.quantization} needs a CUDA GPU (bitsandbytes), and this machine has none",
                "drop model.quantization (or use dtype: bf16), or run on a GPU machine",
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise SpecError(
                "model.quantization", "needs bitsandbytes, which is not installed", "pip install bitsandbytes"
            ) from None

    def from_pretrained_options(self) -> dict[str, Any]:
        """What ``from_pretrained`` takes for these choices."""
        import torch

        options: dict[str, Any] = {}
        if self.dtype != "auto":
            options["dtype"] = getattr(torch, TORCH_DTYPES[self.dtype])
        if self.quantized:
            from transformers import BitsAndBytesConfig

            options["quantization_config"] = BitsAndBytesConfig(**self.quantization_arguments())
            options["device_map"] = {"": torch.cuda.current_device()}
        return options

    def quantization_arguments(self) -> dict[str, Any]:
        """``BitsAndBytesConfig``'s arguments for these choices (QLoRA's for 4bit: NF4, double
        quantization, bf16 compute, which bitsandbytes takes by name); none unquantized. The
        model card writes the same ones into its loading snippet."""
        if self.quantization == "4bit":
            return {
                "load_in_4bit": True,
                "bnb_4bit_quant_type": "nf4",
                "bnb_4bit_use_double_quant": True,
                "bnb_4bit_compute_dtype": "bfloat16",
            }
        return {"load_in_8bit": True} if self.quantization == "8bit" else {}

    def prepared(self, model: Any) -> Any:
        """A quantized model made ready for adapter training (PEFT's QLoRA step: norms in fp32,
        input gradients on); others as they are."""
        if not self.quantized:
            return model
        from peft import prepare_model_for_kbit_training

        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
