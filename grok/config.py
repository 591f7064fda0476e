"""Model and training settings.

One frozen dataclass per concern so that a run folder's `config.json` is the whole
truth about a run: the trainer, the loaders and the app all rebuild from it.
Validation lives here so every entry point (CLI, app, loader) gives the same clear error.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

FORMAT_VERSION = 1  # bump when the run folder / safetensors layout changes


class ConfigError(ValueError):
    """A setting is out of range; the message says which and why."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class ModelConfig:
    p: int = 113
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    n_ctx: int = 3

    @property
    def d_vocab(self) -> int:  # numbers 0..p-1 plus "=" (token p)
        return self.p + 1

    @property
    def d_vocab_out(self) -> int:
        return self.p

    def validate(self) -> "ModelConfig":
        for name in ("p", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.p < 3 or self.p % 2 == 0:
            raise ConfigError(f"p must be an odd integer >= 3 (the Fourier basis over Z_p needs it), got {self.p}")
        if self.n_ctx != 3:
            raise ConfigError(f"n_ctx must be 3 (sequences are [x, y, =]), got {self.n_ctx}")
        return self


@dataclass(frozen=True)
class TrainConfig:
    """The paper's recipe by default: AdamW, full batch, 30 % split, wd 1.0."""

    model: ModelConfig = field(default_factory=ModelConfig)
    frac_train: float = 0.3
    seed: int = 0
    steps: int = 40_000
    lr: float = 1e-3
    wd: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    warmup: int = 10
    eval_every: int = 100
    snapshot_every: int = 0  # 0 = the default schedule (dense early, sparse late)
    grokfast_alpha: float = 0.0  # 0 = Grokfast off
    grokfast_lambda: float = 0.0
    stop_after_grokked: int = -1  # -1 = never stop early
    # numerics (issue 13; defaults = the recipe every older run used, so old config.json load)
    loss: str = "softmax"  # "softmax" | "stablemax" (Prieto et al. 2025), see grok/stablemax.py
    softmax_precision: int = 64  # loss precision: 64 (default, at least float64's: stablemax.softmax_xent) or 32 (where softmax collapses)
    orthograd: bool = False  # perpendicular gradient per tensor, see grok/orthograd.py
    grokfast_window: int = 0  # > 0 = Grokfast-MA over this many past gradients (uses grokfast_lambda)
    adam_eps: float = 1e-8

    def validate(self) -> "TrainConfig":
        self.model.validate()
        if not isinstance(self.frac_train, (int, float)) or not (0 < self.frac_train < 1):
            raise ConfigError(f"frac_train must be strictly between 0 and 1, got {self.frac_train!r}")
        n_train = int(self.frac_train * self.model.p**2)
        if n_train < 1 or n_train >= self.model.p**2:
            raise ConfigError(f"frac_train {self.frac_train} leaves {n_train} training pairs of {self.model.p**2}: need at least 1 train and 1 test pair")
        for name in ("seed", "steps", "warmup", "eval_every", "snapshot_every", "stop_after_grokked"):
            if not _is_int(getattr(self, name)):
                raise ConfigError(f"{name} must be an integer, got {getattr(self, name)!r}")
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.warmup < 0 or self.snapshot_every < 0:
            raise ConfigError("warmup and snapshot_every must be >= 0")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every must be >= 1, got {self.eval_every}")
        if self.stop_after_grokked < -1:
            raise ConfigError("stop_after_grokked must be >= 0 (or -1 for never)")
        for name in ("lr", "wd", "grokfast_lambda"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr == 0:
            raise ConfigError("lr must be > 0")
        for name in ("beta1", "beta2", "grokfast_alpha"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (0 <= v < 1):
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
        if self.loss not in ("softmax", "stablemax"):
            raise ConfigError(f"loss must be 'softmax' or 'stablemax', got {self.loss!r}")
        if self.softmax_precision not in (32, 64) or isinstance(self.softmax_precision, bool):
            raise ConfigError(f"softmax_precision must be 32 or 64, got {self.softmax_precision!r}")
        if not isinstance(self.orthograd, bool):
            raise ConfigError(f"orthograd must be true or false, got {self.orthograd!r}")
        if not _is_int(self.grokfast_window) or self.grokfast_window < 0:
            raise ConfigError(f"grokfast_window must be an integer >= 0, got {self.grokfast_window!r}")
        if self.grokfast_window > 0 and self.grokfast_alpha > 0:
            raise ConfigError("choose one Grokfast filter: grokfast_alpha (EMA) or grokfast_window (MA), not both")
        if not isinstance(self.adam_eps, (int, float)) or not math.isfinite(self.adam_eps) or self.adam_eps <= 0:
            raise ConfigError(f"adam_eps must be a finite number > 0, got {self.adam_eps!r}")
        return self

    @property
    def grokfast(self) -> bool:
        """Grokfast-EMA is on (see grokfast_ma for the moving-average filter)."""
        return self.grokfast_alpha > 0 and self.grokfast_lambda > 0

    @property
    def grokfast_ma(self) -> bool:
        return self.grokfast_window > 0 and self.grokfast_lambda > 0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["format_version"] = FORMAT_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Rebuild and validate; unknown keys are an error so typos never pass silently."""
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        version = d.pop("format_version", FORMAT_VERSION)
        if not _is_int(version) or version > FORMAT_VERSION:
            raise ConfigError(f"format_version {version!r} is newer than this code understands ({FORMAT_VERSION}); update grok-explorer")
        model = d.pop("model", {})
        if not isinstance(model, dict):
            raise ConfigError("config 'model' must be a JSON object")
        known_m = {f.name for f in dataclasses.fields(ModelConfig)}
        known_t = {f.name for f in dataclasses.fields(cls)} - {"model"}
        bad = sorted((set(model) - known_m) | (set(d) - known_t))
        if bad:
            raise ConfigError(f"unknown config keys: {', '.join(bad)}")
        return cls(model=ModelConfig(**model), **d).validate()
