"""Rows to a database: the loader interface, the backends, and the SQL they share."""
