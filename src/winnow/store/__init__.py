"""The store: SQLAlchemy Core tables, migrations and the queries over them.

Repository functions take a connection; the caller owns the transaction.
"""
