"""The Temporal SDK runtime of a process: where its core (Rust) logs and metrics go.

By default the SDK's core prints its own log lines to stderr as coloured text; here they are
forwarded into Python logging, so they come out as JSON like every other line (core/logging.py).
The worker also serves the runtime's Prometheus metrics, the SDK's and ours, when asked to.
"""

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)


def runtime(metrics_address: str | None = None) -> Runtime:
    """A runtime forwarding core warnings to the `temporalio.core` logger, and serving
    http://<metrics_address>/metrics when an address is given."""
    return Runtime(telemetry=TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core"))),
        metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
    ))


def install(metrics_address: str | None = None) -> None:
    """Make it the default runtime: call before the process creates its Temporal client."""
    Runtime.set_default(runtime(metrics_address), error_if_already_set=False)
