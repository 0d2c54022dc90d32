"""Durable state through SQLAlchemy: SQLite by default, PostgreSQL in production, one set of
Alembic migrations for both."""
