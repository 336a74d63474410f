"""Load benchmarks of the gateway against a bare FastAPI endpoint (see bench/README.md)."""
