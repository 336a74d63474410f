"""Payments: a customer-consented credit transfer, idempotent and evented."""
