"""How a spec holds the base model's weights (``model: {path, dtype, quantization}``): its own
module, because the spec and an export's recipe both check it the same way."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from autopeft.space.language import Strict


class ModelOptions(Strict):
    """How the base model's weights are held (``models.memory.ModelLoading``, which the driver
    builds from this): large models in less memory."""

    dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="the weights' dtype; auto: as the checkpoint stores them"
    )
    quantization: Literal["none", "4bit", "8bit"] = Field(
        default="none", description="4bit (NF4, QLoRA) or 8bit through bitsandbytes; needs a CUDA GPU"
    )
