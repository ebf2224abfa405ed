"""A model folder whose config asks for its own Python code (``auto_map``) is refused in one line
before anything loads, and no loading call would run such code."""

from __future__ import annotations

import json
import shutil

import pytest

import autopeft
from autopeft.errors import SpecError


def test_a_folder_that_needs_its_own_code_is_refused_in_one_line(quick_spec, tiny_bert, tmp_path):
    folder = tmp_path / "remote"
    shutil.copytree(tiny_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    with pytest.raises(SpecError, match=r"^model: .* asks to run its own Python code .*Fix: "):
        autopeft.search(quick_spec | {"model": str(folder)})
    assert not (tmp_path / "ran").exists()


def test_every_loading_call_turns_remote_code_off(monkeypatch, tiny_bert):
    import transformers

    from autopeft.tasks import task_for

    seen = []
    for name in ("AutoConfig", "AutoModelForSequenceClassification"):
        original = getattr(transformers, name).from_pretrained
        monkeypatch.setattr(
            getattr(transformers, name),
            "from_pretrained",
            lambda *a, _o=original, **k: seen.append(k.get("trust_remote_code")) or _o(*a, **k),
        )
    task = task_for("classification")
    task.load_model(str(tiny_bert), ["neg", "pos"])
    task.load_skeleton(str(tiny_bert), ["neg", "pos"])
    assert seen and all(value is False for value in seen)
