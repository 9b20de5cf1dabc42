"""Scenario 5: how rebuilding scales with history: time, peak memory, bytes per event.

Each size is generated and rebuilt in child processes of its own, so the peak
resident set size of a rebuild is that rebuild's alone (VmHWM of the
rebuilding process), not what generating the history or a larger run left
behind. (`ru_maxrss` would not do: Linux carries it over from the forking
parent.) The processes a rebuild forks to fill its parts count too: the peak is the
larger of the rebuilding process's and its largest child's. Memory must stay flat: a
catch-up holds one batch at a time.
"""

import json
import resource
import subprocess
import sys
import time
from contextlib import closing

from bench import rebuild, workload
from bench.backends import Backend
from engine.composition import build_engine
from engine.settings import Settings


def _child(*args: str, timeout: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.growth", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench.growth {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(backend: Backend, sizes: list[int], timeout: float = 3600) -> dict:
    results = []
    for size in sizes:
        settings = backend.settings(f"growth{size}")
        made = _child("generate", json.dumps(settings.as_env()), str(size), timeout=timeout)
        fresh = backend.fresh_projections(settings, f"growthrebuild{size}")
        rebuilt = _child("rebuild", json.dumps(fresh.as_env()), timeout=timeout)
        if rebuilt["projected"] != made["intercept_events"]:
            raise RuntimeError(
                f"rebuild projected {rebuilt['projected']} of "
                f"{made['intercept_events']} intercept events"
            )
        results.append(
            {
                "intercepts": size,
                **made,
                **rebuilt,
                **_storage(fresh, made["events"], made["intercept_events"]),
            }
        )
        Backend.remove(settings)
    smallest = results[0]["peak_rss_mib"]
    return {
        "sizes": results,
        "peak_rss_vs_smallest": {
            str(r["intercepts"]): r["peak_rss_mib"] / smallest for r in results
        },
    }


def _storage(settings: Settings, events: int, intercept_events: int) -> dict:
    sizes = Backend.storage_bytes(settings)
    return {
        "event_store_bytes_per_event": sizes["event_store"] / events,
        "payload_bytes_per_event": sizes["payload"] / events,
        "projection_bytes_per_intercept_event": sizes["projections"] / intercept_events,
    }


def _generate(settings: Settings, intercepts: int) -> dict:
    started = time.perf_counter()
    with closing(build_engine(settings, clock=workload.StepClock())) as engine:
        history = workload.write_history(engine.app, intercepts)
    Backend.compact(settings)
    return {
        "events": history.events,
        "intercept_events": history.intercept_events,
        "generate_seconds": time.perf_counter() - started,
    }


def _rebuild(settings: Settings) -> dict:
    with closing(build_engine(settings, clock=workload.StepClock())) as engine:
        entries = engine.app.recorder.max_notification_id() or 0
        before = _memory_kib("VmRSS")
        started = time.perf_counter()
        projected = rebuild.fill(engine)  # as `intercept replay` builds its projections
        seconds = time.perf_counter() - started
        # The processes filling its parts (engine/replay.py) are forks of this one: the
        # largest of them, counted with what it shares with this one.
        peak = max(_memory_kib("VmHWM"), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {
        "rebuild_seconds": seconds,
        "rebuild_events_per_s": entries / seconds,
        "projected": projected,
        "rss_before_mib": before / 1024,
        "peak_rss_mib": peak / 1024,
    }


def _memory_kib(field: str) -> int:
    """This process's resident set size now (VmRSS) or at its peak (VmHWM), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


if __name__ == "__main__":
    what, settings_json, *rest = sys.argv[1:]
    settings = Settings.from_env(json.loads(settings_json))
    result = _generate(settings, int(rest[0])) if what == "generate" else _rebuild(settings)
    print(json.dumps(result))
