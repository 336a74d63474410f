"""Magic values (DESIGN §9): the cents of an amount moved in the sandbox choose its outcome.

- `.51`: refused, `422 insufficient-funds`.
- `.52`: refused, `422 account-frozen`.
- `.53`: the core times out (`504 core-timeout`) *after* moving the money: its answer is
  lost. A retry with the same Idempotency-Key finds the payment and answers it; nothing is
  paid twice.
- `.54`: the core is unavailable (`503 core-unavailable`, counted by the circuit breaker);
  nothing moves.
- `.55`: accepted as `Pending`; settles one virtual hour later (`POST /sandbox/clock/advance`).

Any other amount behaves as a real bank would: it moves if the account is enabled and
holds enough money.
"""

from __future__ import annotations

import enum
from datetime import timedelta

PENDING_FOR = timedelta(hours=1)


class Magic(enum.IntEnum):
    """An outcome the sandbox simulates, by the cents of the amount."""

    INSUFFICIENT_FUNDS = 51
    ACCOUNT_FROZEN = 52
    CORE_TIMEOUT = 53
    CORE_UNAVAILABLE = 54
    PENDING = 55


def magic(amount_cents: int) -> Magic | None:
    """The simulated outcome an amount (in cents) asks for, if any."""
    try:
        return Magic(amount_cents % 100)
    except ValueError:
        return None
