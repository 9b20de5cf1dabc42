"""Comparing projections: rows and timelines, the things analysts read."""

from engine.composition import build_engine


def tables(db) -> tuple:
    return (
        db.read("SELECT * FROM intercepts ORDER BY intercept_id"),
        db.read("SELECT * FROM intercept_events ORDER BY intercept_id, version"),
    )


def reference_tables(settings, tmp_path) -> tuple:
    """The projections an in-order pass over the event store gives."""
    reference = build_engine(
        settings.model_copy(
            update={
                "kafka_bootstrap": None,
                "projections": f"sqlite:///{tmp_path / 'reference.db'}",
            }
        )
    )
    reference.catch_up()
    return tables(reference.db)
