"""The registry: SQLAlchemy models, sessions, queries and tokens."""
