"""Persistence: SQLAlchemy models and the database engine."""
