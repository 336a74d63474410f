"""Probes and the operations API."""
