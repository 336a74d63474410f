"""What the bank offers: its capabilities and its product catalogues (A1)."""
