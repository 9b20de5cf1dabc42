"""The event store adapter: the mapper, the chained SQLite and PostgreSQL recorders and
the log reads. All event-store SQL lives here (recorders.py)."""
