"""Named recipes: `python -m grok.train --preset NAME --out DIR [overrides]`.

Why presets: the paper's recipe takes ~8,000 steps to grok, too long to watch; these are the
settings measured here to show the same story (memorise early, test accuracy near chance for a
while, then a jump to 100 %) in the time a visitor or a CI job has. Each preset is a set of
TrainConfig fields ("p" is the model's modulus); any option given beside `--preset` on the
command line overrides the preset's value. Measured steps to 100 % test and wall times (3 seeds)
are in the README's training section ("Presets").
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .config import ConfigError, ModelConfig, TrainConfig


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str  # one line for --help and the Train page
    settings: dict = field(default_factory=dict)  # TrainConfig field -> value; "p" sets model.p


PRESETS: dict[str, Preset] = {
    "paper": Preset("paper", "the canonical recipe of Nanda et al.: p 113, 30 % split, lr 1e-3, wd 1, 40,000 steps (groks at ~7,900)",
                    dict(p=113, frac_train=0.3, lr=1e-3, wd=1.0, steps=40_000, eval_every=100)),
    "quick": Preset("quick", "p 113, 30 % split, lr 3e-3: memorised by step 100, 100 % test at steps 1,450-3,000 in 39-82 s (seeds 0-2, 2 cores)",
                    dict(p=113, frac_train=0.3, lr=3e-3, wd=1.0, steps=5_000, eval_every=50, stop_after_grokked=300)),
    "watch": Preset("watch", "the Train page's 'Watch it grok': p 59, 50 % split, lr 3e-3, wd 1: 100 % test at steps 550-1,025 (seeds 0-2)",
                    dict(p=59, frac_train=0.5, lr=3e-3, wd=1.0, steps=3_000, eval_every=25, stop_after_grokked=200)),
    "no-wd": Preset("no-wd", "the contrast to `quick`: the same recipe without weight decay (expected to memorise only; not measured here)",
                    dict(p=113, frac_train=0.3, lr=3e-3, wd=0.0, steps=5_000, eval_every=50)),
}

_FIELDS = {f.name for f in fields(TrainConfig)} - {"model"}


def names() -> list[str]:
    return list(PRESETS)


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def apply(name: str, base: TrainConfig | None = None, keep: set[str] | frozenset[str] = frozenset()) -> TrainConfig:
    """`base` (default TrainConfig()) with the preset's settings, except the fields in `keep`
    (the options the user gave explicitly: they override the preset). Validated."""
    base = TrainConfig() if base is None else base
    pr = get(name)
    changes = {k: v for k, v in pr.settings.items() if k != "p" and k not in keep}
    bad = set(changes) - _FIELDS
    if bad:
        raise ConfigError(f"preset {name!r} sets unknown fields: {', '.join(sorted(bad))}")
    model = base.model if "p" in keep or "p" not in pr.settings else replace(base.model, p=pr.settings["p"])
    return replace(base, model=model, **changes).validate()


def config(name: str, **overrides) -> TrainConfig:
    """The preset as a TrainConfig, with keyword overrides (p=... for the modulus)."""
    p = overrides.pop("p", None)
    base = TrainConfig(model=ModelConfig(p=p) if p is not None else ModelConfig(), **overrides)
    return apply(name, base, keep=set(overrides) | ({"p"} if p is not None else set()))
