"""Which models a server serves, with which version policy and labels: TF-Serving's model config.

``nm-tf serve --model-config-file FILE`` reads a ``ModelServerConfig`` text proto (TF-Serving's
``--model_config_file``, e.g. ``serving/models.config``) with ``google.protobuf.text_format``; without
one, every valid child of ``--model-dir`` is a model with TF-Serving's default policy, the latest version
only, and no labels.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ..errors import UsageError
from ..servable import valid_model_name, valid_version

__all__ = ["ServedModel", "load_model_config"]

_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """One served model: its folder of versions, version policy and labels.

    ``policy``: ``("latest", n)``, ``("all",)`` or ``("specific", frozenset of versions)``.
    """

    name: str
    base: Path
    policy: tuple = ("latest", 1)
    labels: dict = dataclasses.field(default_factory=dict)

    def wanted(self, versions: list) -> list:
        """The versions on disk this policy serves (``versions`` sorted ascending)."""
        kind = self.policy[0]
        if kind == "latest":
            return versions[-self.policy[1]:]
        if kind == "all":
            return list(versions)
        return [v for v in versions if v in self.policy[1]]


def valid_label(label) -> bool:
    return isinstance(label, str) and _LABEL.fullmatch(label) is not None


def load_model_config(path) -> list:
    """``[ServedModel]`` from a ModelServerConfig text proto; a relative ``base_path`` is taken relative to
    the file's folder. Any problem is one :class:`UsageError` line."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the model config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as exc:
        raise UsageError(f"cannot parse the model config {path}: {exc}") from None
    if config.WhichOneof("config") != "model_config_list" or not config.model_config_list.config:
        raise UsageError(f"model config {path} must hold a model_config_list with at least one config")
    out, seen = [], set()
    for c in config.model_config_list.config:
        if not valid_model_name(c.name) or c.name in seen:
            raise UsageError(f"model config {path}: model name {c.name!r} is invalid or repeated")
        seen.add(c.name)
        if not c.base_path:
            raise UsageError(f"model config {path}: model {c.name} has no base_path")
        base = Path(c.base_path)
        base = base if base.is_absolute() else path.parent / base
        choice = c.model_version_policy.WhichOneof("policy_choice")
        if choice in (None, "latest"):
            n = c.model_version_policy.latest.num_versions if choice else 1
            policy = ("latest", max(1, n))
        elif choice == "all":
            policy = ("all",)
        else:
            versions = frozenset(c.model_version_policy.specific.versions)
            if not versions or not all(valid_version(v) for v in versions):
                raise UsageError(f"model config {path}: model {c.name}: specific versions must be integers >= 1")
            policy = ("specific", versions)
        labels = dict(c.version_labels)
        for label, version in labels.items():
            if not valid_label(label) or not valid_version(version):
                raise UsageError(f"model config {path}: model {c.name}: bad version label {label!r} -> {version}")
        out.append(ServedModel(c.name, base, policy, labels))
    return out
