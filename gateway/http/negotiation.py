"""Content negotiation on `Accept` (RFC 9110 §12.5.1), for the few routes that offer more
than JSON."""

from __future__ import annotations

from collections.abc import Sequence


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    """(media range, q, specificity) for each member of an `Accept` value."""
    found = []
    for member in accept.split(","):
        media, *parameters = (part.strip() for part in member.split(";"))
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        media = media.lower()
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        found.append((media, quality, specificity))
    return found


def _quality(offer: str, ranges: list[tuple[str, float, int]]) -> float:
    """The q of the most specific range that matches `offer` (0: none does)."""
    kind = offer.split("/", 1)[0] + "/*"
    matching = [(s, q) for media, q, s in ranges if media in (offer, kind, "*/*")]
    return max(matching)[1] if matching else 0.0


def choose(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer `accept` prefers (the first of `offers` on a tie, and without `Accept`),
    or None when it accepts none of them."""
    if not accept or not accept.strip():
        return offers[0]
    ranges = _ranges(accept)
    best, best_q = None, 0.0
    for offer in offers:
        q = _quality(offer, ranges)
        if q > best_q:
            best, best_q = offer, q
    return best
