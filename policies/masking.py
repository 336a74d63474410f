"""Masking personal data before it is logged, audited or shown partially (DESIGN §7)."""

from __future__ import annotations


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def mask_account_number(number: str) -> str:
    """Card and account numbers keep the first 6 and last 4 digits."""
    return _mask(number, 6, 4)


def mask_id_number(number: str) -> str:
    """Mainland ID numbers keep the first 3 and last 4 characters."""
    return _mask(number, 3, 4)


def mask_mobile(number: str) -> str:
    """Mobile numbers keep the first 3 and last 4 digits."""
    return _mask(number, 3, 4)


def mask_name(full_name: str, family_name: str | None = None) -> str:
    """Names keep the family name only."""
    if family_name:
        return family_name + "*" * max(len(full_name) - len(family_name), 1)
    return full_name[:1] + "*" * max(len(full_name) - 1, 1)
