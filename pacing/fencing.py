"""The pacer lease seen from its holder: until when this instance certainly paces a campaign.

Design. The lease itself lives in the database (``gateway.campaigns.leasing``): one row per
campaign, its expiry set and compared on the database's clock, so instances on hosts whose clocks
disagree still agree on who holds it. Another instance takes a campaign the moment its lease has
expired. The holder must therefore stop *before* that moment by itself: a holder that is frozen
(SIGSTOP, a swap storm) or cut off from the database cannot learn that it lost the lease, and
must not act on a lease it may no longer have.

The holder counts its deadline on its own monotonic clock, from the instant read *before* the
acquire (or renew) statement was sent: the database set the expiry ``ttl`` after a moment no
earlier than that, so ``sent + ttl`` is never later than the real expiry. A ``margin`` is taken
off for the difference in rate between the two clocks and for the time between a check and the
action it allows (a lease statement in flight). Past the deadline the campaign's runner makes no
decision, leases no record, writes no attempt and sends nothing it had written; the next
successful renewal moves the deadline on (nobody took the lease meanwhile), a failed one ends
the runner (:mod:`pacing.supervisor`).

:class:`LeaseTerms` checks that the terms leave room for a renewal to fail now and then without
fencing a healthy holder: what remains of the ttl after the margin covers at least two renewal
intervals, and the ttl at least three. A contender does not wait for its next round to try a
lease that is about to expire: :func:`next_round_s` brings the round forward to just after it.

The agent feed lease of each Asterisk server (``dialer.feedowner``) is held on the same terms:
its holder stops writing at :meth:`LeaseTerms.held_until` as well.

Pure: every time is passed in, nothing here reads a clock or awaits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pacing.errors import LeaseTermsError

RENEW_S = 1.0  # the supervisor's default round: each held lease is renewed this often
MARGIN_S = 1.0  # the holder's default safety margin
TAKE_AFTER_S = 0.05  # a contender's next try comes this long after the lease it waits for ends


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """How long one acquire holds a lease, how often it is renewed, and the holder's margin."""

    ttl_s: float
    renew_s: float = RENEW_S
    margin_s: float = MARGIN_S

    def __post_init__(self) -> None:
        if not (math.isfinite(self.renew_s) and self.renew_s > 0):
            raise LeaseTermsError(f"renewal interval {self.renew_s} s is not positive")
        if not (math.isfinite(self.ttl_s) and self.ttl_s >= 3 * self.renew_s):
            raise LeaseTermsError(
                f"lease ttl {self.ttl_s} s is below 3 renewal intervals of {self.renew_s} s"
            )
        if not (math.isfinite(self.margin_s) and self.margin_s > 0):
            raise LeaseTermsError(f"safety margin {self.margin_s} s is not positive")
        if self.ttl_s - self.margin_s < 2 * self.renew_s:
            raise LeaseTermsError(
                f"lease ttl {self.ttl_s} s less the margin {self.margin_s} s is below 2 renewal "
                f"intervals of {self.renew_s} s"
            )

    def held_until(self, sent_at: float) -> float:
        """The deadline of a lease granted by a statement sent at ``sent_at`` (monotonic)."""
        return sent_at + self.ttl_s - self.margin_s


def fence(until: float, now: float) -> str | None:
    """Why a holder must not act at ``now`` on a lease certainly held until ``until`` (None:
    it may)."""
    if now < until:
        return None
    return "pacer lease not certainly held: waiting for its renewal"


def next_round_s(interval_s: float, others_expire_in_s: float | None) -> float:
    """Seconds until the supervisor's next round: the interval, or sooner when a lease another
    instance holds expires before that (its holder died: the campaign is taken over just after
    the expiry rather than up to an interval later)."""
    if others_expire_in_s is None:
        return interval_s
    return min(interval_s, max(0.0, others_expire_in_s) + TAKE_AFTER_S)


@dataclass(slots=True)
class Tenure:
    """The campaigns whose lease this instance holds, each with its deadline (monotonic)."""

    terms: LeaseTerms
    _until: dict[int, float] = field(default_factory=dict)

    def granted(self, campaign_id: int, sent_at: float) -> None:
        """An acquire or renewal sent at ``sent_at`` succeeded."""
        self._until[campaign_id] = self.terms.held_until(sent_at)

    def lost(self, campaign_id: int) -> None:
        """The lease was refused, released, or the campaign left ``running``."""
        self._until.pop(campaign_id, None)

    def until(self, campaign_id: int) -> float:
        """The deadline of the campaign's lease; minus infinity when not held."""
        return self._until.get(campaign_id, -math.inf)

    def held(self, campaign_id: int, now: float) -> bool:
        return fence(self.until(campaign_id), now) is None
