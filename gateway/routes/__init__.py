"""Capability routes (`/v1`): thin: parse, call the core, shape the response."""
