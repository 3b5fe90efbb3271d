"""How far ahead a buffer keeps itself: raised by underruns, lowered again by calm.

A buffer that runs dry clicks (or conceals); one that is deep adds latency for everyone.
So the depth is adapted to what happens: each underrun that a deeper buffer would have
avoided raises the target by ``step_up_ms`` (up to ``max_extra_ms`` above the base), and
once no underrun has happened for ``calm_s`` it comes back down at ``decay_ms_per_s``.
Underruns that follow a freeze of this process are not fed to the policy by its users: no
buffer depth helps against a host that stops us, it would only add latency for good.

Its user is a participant's jitter buffer (:data:`CHANNEL`): its underruns are late network
blocks, and a single late block already says the path has jitter, so every one counts. Its
cap is an absolute 100 ms of buffering (``max_extra_ms`` is set per channel from its base),
and calm is measured in frames it plays: a participant who went quiet has shown nothing
about the network, so the target does not shrink while nothing arrives. (The output ring
had a policy of its own until the device's callback pulled the mixer: see ``output``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TargetPolicy:
    """The figures of one adaptive target (see the module docstring)."""

    step_up_ms: float       # added per underrun
    max_extra_ms: float     # at most this far above the base
    calm_s: float           # no underrun for this long before the target comes down
    decay_ms_per_s: float   # how fast it comes down once calm


CHANNEL = TargetPolicy(step_up_ms=10.0, max_extra_ms=70.0, calm_s=10.0, decay_ms_per_s=2.0)


class AdaptiveTarget:
    """The extra depth (ms above a buffer's base) that underruns have bought.

    Time is passed in by the caller (``now``, seconds on any monotonic clock), which keeps
    the policy deterministic and lets each user choose what counts as calm time.
    """

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self.extra_ms = 0.0
        self._last_underrun = -math.inf

    def on_underruns(self, count: int, now: float) -> bool:
        """``count`` underruns (none after a freeze) happened by ``now``; True if raised."""
        if count <= 0:
            return False
        p = self.policy
        self._last_underrun = now
        self.extra_ms = min(p.max_extra_ms, self.extra_ms + p.step_up_ms * count)
        return True

    def relax(self, now: float, elapsed: float) -> bool:
        """``elapsed`` seconds of calm time passed up to ``now``; True if the target fell."""
        p = self.policy
        calm_for = now - self._last_underrun - p.calm_s
        if self.extra_ms <= 0.0 or calm_for <= 0.0:
            return False
        self.extra_ms = max(0.0, self.extra_ms - p.decay_ms_per_s * min(elapsed, calm_for))
        return True
