"""The benchmark's profile under load (bench/load_profile.py) reads py-spy's raw stacks: waits
are idle, busy samples go to the package running and to the service's functions on the stack."""

from pathlib import Path

import pytest

from bench.load_profile import REQUEST_STEP, summarise

pytestmark = pytest.mark.pure

# py-spy's raw format: one line per distinct stack, its frames joined by ";", then a count.
STACKS = [
    ('process 1:"python";Runner.run (asyncio/runners.py:118)', 50),
    ('process 1:"python";Runner.run (asyncio/runners.py:118);'
     "FastAPI.__call__ (fastapi/applications.py:1205);MetricsMiddleware.http (api/metrics.py:90);"
     "act (api/routes/cases.py:135);DataConverter.encode (temporalio/converter/_data_converter.py:110)",
     10),
    ('process 2:"python";Thread.run (threading.py:975);'
     "project_answers (readmodel/projection.py:162);record_answer (readmodel/projection.py:132);"
     "Session.flush (sqlalchemy/orm/session.py:4300);Cursor.execute (psycopg/cursor.py:97)", 30),
    ('process 2:"python";Thread.run (threading.py:975);'
     "project_answers (readmodel/projection.py:162);Connection.wait (psycopg/connection.py:960)",
     60),
    ('process 2:"python";Thread.run (threading.py:975);Condition.wait (threading.py:320)', 40),
    ('process 2:"python";Thread.run (threading.py:975);append_many (core/audit.py:300);'
     "uuid4 (uuid.py:723)", 10),
]
RAW = "".join(f"{stack} {count}\n" for stack, count in STACKS)


def test_waits_are_idle_and_busy_samples_are_grouped_by_package_and_by_step(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(RAW)
    profile = summarise("api", raw)
    assert (profile.samples, profile.idle, profile.active) == (200, 150, 50)
    assert dict((package, share) for share, package in profile.by_package) == {
        "psycopg": 0.6, "temporalio": 0.2, "standard library": 0.2}
    steps = {step: share for share, step in profile.by_step}
    assert steps == {
        "project_answers (readmodel/projection.py)": 0.6,
        "record_answer (readmodel/projection.py)": 0.6,
        REQUEST_STEP: 0.2,  # the middlewares are one line, not one each
        "act (api/routes/cases.py)": 0.2,
        "append_many (core/audit.py)": 0.2,
    }
