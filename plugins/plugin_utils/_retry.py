# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backoff with jitter, in one place, for every wait that retries something safe to retry.

Only retry what cannot have done harm: msiexec's 1618 means Windows Installer refused
to start, so running it again is safe; a failure in the middle of an install is not
retried here.
"""

from __future__ import annotations

import random
import time
import typing as t


def backoff_delays(
    timeout: float,
    initial: float = 5.0,
    maximum: float = 60.0,
    rng: random.Random | None = None,
) -> t.Iterator[float]:
    """Delays before each retry, doubling up to ``maximum``, that together stay within ``timeout``.

    Full jitter (a random share of the step) keeps a fleet of hosts that all hit a
    busy installer at once from retrying in lockstep.
    """
    rng = rng or random.Random()
    spent = 0.0
    step = initial
    while spent < timeout:
        delay = min(step, maximum) * (0.5 + rng.random() / 2)
        delay = min(delay, timeout - spent)
        spent += delay
        yield delay
        step *= 2


def retry_while(
    attempt: t.Callable[[], t.Any],
    should_retry: t.Callable[[t.Any], bool],
    timeout: float,
    *,
    initial: float = 5.0,
    maximum: float = 60.0,
    sleep: t.Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[t.Any, int]:
    """Call ``attempt`` until ``should_retry`` says no or ``timeout`` seconds of waiting are spent.

    Returns the last result and how many retries it took.
    """
    result = attempt()
    retries = 0
    if not should_retry(result):
        return result, retries
    for delay in backoff_delays(timeout, initial, maximum, rng):
        sleep(delay)
        result = attempt()
        retries += 1
        if not should_retry(result):
            break
    return result, retries
