"""Collections: bills a scene partner issues, their payment by customers and at bank
channels, and the daily statement that reconciles what was settled."""
