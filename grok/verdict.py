"""One documented rule for "does this checkpoint have a clock?", used by every page and CLI.

Why a rule beyond `measures.key_frequencies`: that function always returns some frequencies
(up to 8 weak ones for a memorising model), so labelling them "key" on a model that only
memorises, or on an early checkpoint, teaches the wrong lesson. What makes a clock is not
that some frequency ranks first but that the logits ARE a sum of cos(w_k(x + y - c)) terms.

Rule: take the checkpoint's key frequencies (`measures.key_frequencies`) and the fraction of
the centred grid logits' variance that their cos(w_k(x + y - c)) directions explain
(`measures.logit_var_explained`).
  share >= CLOCK_SHARE (50 %)    -> "clock":   the frequencies are labelled key frequencies;
  share >= FORMING_SHARE (10 %)  -> "forming": shown as "candidate" frequencies, no clock verdict;
  below                          -> "none":    no key-frequency label, no clock drawn.
Measured on the shipped runs: mod113 final 0.87 (clock), step 4,400 0.34 (forming), step
2,400 0.085 (none); mod113-no-wd 0.006 at every step (none).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

CLOCK_SHARE = 0.5
FORMING_SHARE = 0.1


@dataclass(frozen=True)
class ClockVerdict:
    state: str  # "clock" | "forming" | "none"
    share: float  # fraction of logit variance along the key cos(w_k(x+y-c)) terms
    freqs: tuple[int, ...]  # the candidate frequencies the share was measured on

    @property
    def has_clock(self) -> bool:
        return self.state == "clock"

    @property
    def key_freqs(self) -> tuple[int, ...]:
        """Frequencies that may be called "key frequencies": none unless there is a clock."""
        return self.freqs if self.has_clock else ()

    @property
    def text(self) -> str:
        ks = ", ".join(map(str, self.freqs))
        if self.state == "clock":
            return (f"Clock: the key frequencies k = {ks} explain {self.share:.0%} of the logits' variance "
                    f"(rule: at least {CLOCK_SHARE:.0%}).")
        if self.state == "forming":
            return (f"No clock yet, one is forming: the strongest frequencies (k = {ks}) explain only "
                    f"{self.share:.0%} of the logits' variance (a clock needs {CLOCK_SHARE:.0%}).")
        return (f"No clock: no set of frequencies explains the logits (the strongest explain {self.share:.1%} of "
                f"their variance; a clock needs {CLOCK_SHARE:.0%}). This checkpoint does not compute with waves (it "
                "memorises, or has not learnt yet), so nothing here is labelled a key frequency.")


def verdict(share: float, freqs) -> ClockVerdict:
    state = "clock" if share >= CLOCK_SHARE else "forming" if share >= FORMING_SHARE else "none"
    return ClockVerdict(state, float(share), tuple(int(k) for k in freqs))


def of_logits(logits: torch.Tensor) -> ClockVerdict:
    """Verdict of grid logits [p*p, p] with their own key frequencies."""
    from . import measures

    ks = measures.key_frequencies(logits)
    return verdict(measures.logit_var_explained(logits, ks), ks)
