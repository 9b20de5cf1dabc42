"""Suite-wide settings: hypothesis profiles and the engine fixtures."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class StepClock:
    """A clock for tests: every reading is one second after the previous one."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session (embedded), or INTERCEPT_TEST_POSTGRES_URL."""
    from tests.support.postgres_server import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """The storage under test: the embedded SQLite default, or PostgreSQL."""
    return request.param


@pytest.fixture
def store_settings(backend: str, tmp_path: Path, request):
    """Settings on fresh databases of the backend under test (PostgreSQL: new databases)."""
    from engine.settings import Settings

    if backend == "sqlite":
        return Settings(home=tmp_path / "var")
    server = request.getfixturevalue("postgres_server")
    return Settings(
        home=tmp_path / "var",
        event_store=server.create_database("events"),
        projections=server.create_database("projections"),
    )


@pytest.fixture
def store_env(store_settings) -> dict[str, str]:
    """The same databases as environment variables, for `intercept` processes."""
    env = {"INTERCEPT_HOME": str(store_settings.home)}
    if store_settings.event_store:
        env["INTERCEPT_EVENT_STORE"] = store_settings.event_store
    if store_settings.projections:
        env["INTERCEPT_PROJECTIONS"] = store_settings.projections
    return env


@pytest.fixture
def engine(store_settings, clock: StepClock):
    from engine.composition import build_engine

    built = build_engine(store_settings, clock=clock)
    yield built
    built.close()


@pytest.fixture(scope="session")
def kafka_broker():
    """A real Kafka-protocol broker for the session (Tansu), or KAFKA_BOOTSTRAP_SERVERS."""
    from tests.support.kafka_broker import KafkaBroker

    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def kafka_settings(kafka_broker, tmp_path):
    """Settings for one test: its own home, topics and consumer group on the shared broker."""
    import uuid

    from engine.settings import Settings

    run = uuid.uuid4().hex[:8]
    return Settings(
        home=tmp_path / "var",
        kafka_bootstrap=kafka_broker.bootstrap,
        topic=f"t{run}.events",
        dlq_topic=f"t{run}.events.dlq",
        group_id=f"g{run}",
        partitions=6,
    )
