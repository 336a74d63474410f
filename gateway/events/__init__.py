"""Events partners receive: written to a transactional outbox with the change that caused them."""
