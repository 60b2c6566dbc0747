"""The rate budget's rule, as a sliding log: exact, so that no window of ``window`` seconds ever holds more
than ``limit`` grants of a key (a token bucket starts full and refills continuously, so its first window can
hold twice its rate).

Every backend keeps, per budget key, the times of the grants still inside the window, each tagged with its
lane and an id; a grant is recorded only if the key has fewer than ``limit`` and its lane fewer than
``lane_limit``. When its request has been answered, a grant is moved to the time of the answer
(``answered``): the server counted the request when it arrived, which can be well after the grant when the
request waited for a connection or a busy event loop, and never after the answer. Counting each grant until
``window`` after its answer keeps every server-side window within the budget, however long the trip.
``block`` records phantom grants, so that the server's own count (``X-Rate-Limit-Remaining``) can only shrink
what is left. MemoryStore and SqliteStore apply ``decide`` to their log; RedisStore runs the same rule as
one server-side script.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SERVER_LANE", "Grant", "answered", "decide", "grant"]

SERVER_LANE = "server"
"""The lane of phantom grants standing for requests the server counted that this store did not see."""


Grant = tuple[float, str, str]
"""One grant of a log: ``(time, lane, id)``; phantom grants have the lane ``SERVER_LANE`` and no id."""


def decide(
    log: Sequence[Grant], *, now: float, window: float, limit: int, lane: str, lane_limit: int | None
) -> float:
    """Seconds to wait before a grant in ``lane`` fits (0: it fits now), given the grants ``log`` holds as
    ``(time, lane)``, all inside ``(now - window, now]``. The wait is until the oldest grant whose expiry makes
    room has left the window."""
    wait = 0.0
    if len(log) >= limit:  # sorting only when the key is full: most grants find room at once
        times = sorted(at for at, _, _ in log)
        wait = times[len(times) - limit] + window - now
    if lane_limit is not None:
        own = [at for at, tag, _ in log if tag == lane]
        if len(own) >= lane_limit:
            own.sort()
            wait = max(wait, own[len(own) - lane_limit] + window - now)
    return max(0.0, wait)


def grant(
    log: Sequence[Grant],
    *,
    now: float,
    window: float,
    limit: int,
    lane: str,
    lane_limit: int | None,
    grant_id: str,
) -> tuple[float, float, list[Grant]]:
    """One attempt on a key's ``log``: ``(wait, at, log)``, where ``log`` is what to keep (the grants still in
    the window, plus the new one at ``at`` when ``wait`` is 0).

    ``at`` is never earlier than the key's latest grant: a caller's clock reading can be stale by the time
    its attempt runs (another worker went first), and a grant recorded in the past would leave the window
    early and let one more through than the budget allows."""
    at = max([now, *[t for t, tag, _ in log if tag != SERVER_LANE]])
    cutoff = at - window
    kept = [g for g in log if g[0] > cutoff]
    wait = decide(kept, now=at, window=window, limit=limit, lane=lane, lane_limit=lane_limit)
    if wait <= 0:
        kept.append((at, lane, grant_id))
    return wait, at, kept


def answered(log: Sequence[Grant], *, grant_id: str, lane: str, at: float) -> list[Grant]:
    """The log with grant ``grant_id`` counted from ``at`` (never earlier than it was), or added at ``at`` if
    it has left the log meanwhile (a request slower than the window)."""
    moved = list(log)
    for index in range(len(moved) - 1, -1, -1):  # from the newest: the grant answered is usually recent
        t, tag, gid = moved[index]
        if gid == grant_id:
            moved[index] = (max(t, at), tag, gid)
            return moved
    moved.append((at, lane, grant_id))
    return moved
