"""Partners and their OAuth clients: the registry."""
