"""The shape of a GPT: one dataclass that sizes every layer of `inference.model.GPT`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


class ConfigError(ValueError):
    """A model configuration that cannot describe a working GPT."""


@dataclass(frozen=True)
class GPTConfig:
    """Hyper-parameters of a GPT-2-style transformer (defaults: GPT-2 small)."""

    vocab_size: int = 50257
    block_size: int = 1024  # longest context the learned position table covers
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0  # only used while training
    bias: bool = True  # GPT-2 has biases in every Linear and LayerNorm
    layer_norm_epsilon: float = 1e-5

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def validate(self) -> None:
        """Raise ConfigError naming the first value that cannot work."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 < float(self.layer_norm_epsilon) < 1.0:
            raise ConfigError(
                f"layer_norm_epsilon must be in (0, 1), got {self.layer_norm_epsilon!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        """Build and validate a config; unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise ConfigError("the model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(unknown)}")
        missing = sorted({"vocab_size", "block_size", "n_layer", "n_head", "n_embd"} - set(data))
        if missing:
            raise ConfigError(f"model config is missing: {', '.join(missing)}")
        config = cls(**data)
        config.validate()
        return config
