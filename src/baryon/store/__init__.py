"""State store: SQLAlchemy Core tables, transactions, Alembic migrations and the queries built on them."""
