"""Real `meetgraph serve` / `worker` processes (the fixtures of tests/processes), whose output is the log."""

from tests.processes.conftest import processes

__all__ = ["processes"]
