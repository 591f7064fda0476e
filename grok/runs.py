"""Run discovery and access for the app and the CLIs: one `Run` object per folder, whether it
is a live run in runs/ (weights in snapshots/) or a shipped one in pretrained/ (weights inside
replay.safetensors). Corrupt runs are reported per run and never stop the others from loading.

Opening a run reads only JSON (config, metrics, safetensors headers: grok/runfiles.py), so the
app's sidebar and Home page never import torch; the weights and the replay (torch) are imported
when a page asks for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import runfiles as rf
from .config import TrainConfig

if TYPE_CHECKING:  # torch-side types, for annotations only
    from .model import Transformer
    from .replay import Replay

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
USER_RUNS = ROOT / "runs"


@dataclass
class Run:
    name: str
    path: Path
    config: TrainConfig
    metrics: list[dict]
    final_step: int | None
    snapshot_steps: list[int] = field(default_factory=list)
    replay_weight_steps: list[int] = field(default_factory=list)
    shipped: bool = False
    replay_steps: list[int] = field(default_factory=list)  # the replay's frame steps ([] without one)

    @property
    def has_replay(self) -> bool:
        return (self.path / rf.REPLAY_FILE).exists()

    def weight_steps(self) -> list[int]:
        """Every step at which full weights can be had, ascending."""
        s = set(self.snapshot_steps) | set(self.replay_weight_steps)
        if self.final_step is not None:
            s.add(self.final_step)
        return sorted(s)

    def frame_steps(self) -> list[int]:
        """Every step the app can show, ascending: the replay's frames and the weight steps."""
        return sorted(set(self.replay_steps) | set(self.weight_steps()))

    def model_at(self, step: int | None = None) -> "Transformer":
        """Weights at `step` (None = final): the final model file, a snapshot, or the replay's copy."""
        from . import checkpoint as ckpt
        from . import replay as replay_mod

        if step is None or step == self.final_step:
            if (self.path / ckpt.MODEL_FILE).exists():
                return ckpt.load_model_file(self.path / ckpt.MODEL_FILE, fallback_config=self.config).model
            step = self.weight_steps()[-1]
        if step in self.snapshot_steps:
            return ckpt.load_snapshot(self.path, step, self.config)
        if step in self.replay_weight_steps:
            return replay_mod.load_weights(self.path / ckpt.REPLAY_FILE, step, self.config)
        raise ckpt.CheckpointError(f"{self.path}: no weights at step {step}; available: {self.weight_steps()[:5]}...")

    def replay(self) -> "Replay":
        from . import replay as replay_mod

        return replay_mod.load(self.path / rf.REPLAY_FILE)


def open_run(path, name: str | None = None) -> Run:
    """Read a run folder's config and metrics and list its weights; CheckpointError if unusable."""
    path = Path(path)
    cfg = rf.load_config(path)
    metrics = rf.read_metrics(path)
    snaps = rf.snapshot_steps(path)
    final = None
    if (path / rf.MODEL_FILE).exists():
        meta = rf.metadata(path / rf.MODEL_FILE)  # checks that the file is whole, reads no weights
        final = int(meta["step"]) if meta.get("step", "").isdigit() else None
    rw: list[int] = []
    frames: list[int] = []
    if (path / rf.REPLAY_FILE).exists():
        try:
            rw = rf.read_int_tensor(path / rf.REPLAY_FILE, "weight_steps")
            frames = rf.read_int_tensor(path / rf.REPLAY_FILE, "steps")
        except rf.CheckpointError as e:
            raise rf.CheckpointError(f"{path / rf.REPLAY_FILE}: unreadable replay file ({e})") from None
    if final is None and not snaps and not rw:
        raise rf.CheckpointError(f"{path}: run folder has no weights yet (no {rf.MODEL_FILE}, snapshots or replay)")
    if final is None and metrics:
        final = max(s for s in snaps + rw) if (snaps or rw) else None
    return Run(name or path.name, path, cfg, metrics, final, snaps, rw,
               shipped=path.parent.resolve() == PRETRAINED.resolve(), replay_steps=frames)


def discover(roots=(PRETRAINED, USER_RUNS)) -> dict[str, Path]:
    """{name: folder} of every folder with a config.json under the roots; pretrained first.
    User runs are named 'runs/NAME' so they never shadow a shipped run."""
    out: dict[str, Path] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if d.is_dir() and (d / rf.CONFIG_FILE).exists():
                name = d.name if root.resolve() == PRETRAINED.resolve() else f"{root.name}/{d.name}"
                out[name] = d
    return out
