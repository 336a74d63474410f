"""Accounts, balances and transactions of consented customers."""
