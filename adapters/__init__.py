"""obgw."""
