"""Consents: what a customer allowed a partner to do, for how long, on which accounts."""
