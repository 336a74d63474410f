"""Storage: SQLAlchemy Core tables and the async database handle (SQLite or PostgreSQL)."""
