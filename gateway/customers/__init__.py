"""The consenting customer, as the partner may know them."""
