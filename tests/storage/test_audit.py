from __future__ import annotations

import time

from sqlalchemy import select

from service.storage.audit import HookAudit, patient_hash
from service.storage.commits import GroupCommitter
from service.storage.db import make_engine, session_factory
from service.storage.tables import AuditEntry, CoverageAssertion
from tests.support.clock import EXAMPLES_NOON


def _entry(instance: str) -> HookAudit:
    return HookAudit(
        at=EXAMPLES_NOON,
        hook="order-sign",
        hook_instance=instance,
        service_id="crd-order-sign",
        client="https://ehr.example.org",
        patient_hash=patient_hash("pat1", b"k"),
        orders_in_scope=["MedicationRequest/mr1"],
        outcome="coverage-information",
        status_code=200,
        duration_ms=1.5,
    )


def test_entries_are_written_in_batches_and_flushed_on_close(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    log = GroupCommitter(sessions, flush_interval_s=0.05)
    for index in range(25):
        log.record(_entry(f"i{index}"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with sessions() as session:
            if len(session.scalars(select(AuditEntry)).all()) == 25:
                break
        time.sleep(0.02)
    log.record(_entry("last"))
    log.close()
    with sessions() as session:
        instances = [
            e.hook_instance for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    engine.dispose()
    assert instances == [f"i{i}" for i in range(25)] + ["last"]


def test_writer_survives_a_database_failure(database_url: str, tmp_path: object) -> None:
    broken = make_engine("sqlite:///" + str(tmp_path) + "/no-tables.db")
    log = GroupCommitter(session_factory(broken), flush_interval_s=0.01)
    log.record(_entry("lost"))
    time.sleep(0.1)
    assert log._thread.is_alive()
    log.close()
    broken.dispose()


def test_patient_hash_is_keyed_and_stable() -> None:
    assert patient_hash("pat1", b"a") == patient_hash("pat1", b"a")
    assert patient_hash("pat1", b"a") != patient_hash("pat1", b"b")
    assert patient_hash(None, b"a") is None
    assert "pat1" not in (patient_hash("pat1", b"a") or "")


def _assertion(assertion_id: str, outcome: str) -> dict[str, object]:
    return {
        "assertion_id": assertion_id,
        "created_at": EXAMPLES_NOON,
        "policy_id": "blinatumomab",
        "order_ref": "MedicationRequest/mr1",
        "coverage_ref": "Coverage/cov1",
        "hook_instance": "h1",
        "evaluation": {"outcome": outcome},
    }


def test_an_assertion_evaluated_again_replaces_the_stored_one(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    log = GroupCommitter(sessions, flush_interval_s=0.05)
    log.store(CoverageAssertion, _assertion("a1", "first"))
    log.store(CoverageAssertion, _assertion("a2", "other"))
    log.store(CoverageAssertion, _assertion("a1", "second"))  # same batch: the last one wins
    time.sleep(0.3)
    log.store(CoverageAssertion, _assertion("a1", "third"))  # a later batch replaces it again
    log.close()
    with sessions() as session:
        stored = {a.assertion_id: a.evaluation for a in session.scalars(select(CoverageAssertion))}
    engine.dispose()
    assert stored == {"a1": {"outcome": "third"}, "a2": {"outcome": "other"}}


def test_json_columns_take_what_orjson_refuses(database_url: str) -> None:
    """JSON columns go through orjson, with the standard library for what orjson refuses."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    log = GroupCommitter(sessions, flush_interval_s=0.05)
    log.store(CoverageAssertion, _assertion("big", "x") | {"evaluation": {"n": 2**70, "é": "ü"}})
    log.store(CoverageAssertion, _assertion("keys", "x") | {"evaluation": {1: "one"}})
    log.close()
    with sessions() as session:
        stored = {a.assertion_id: a.evaluation for a in session.scalars(select(CoverageAssertion))}
    engine.dispose()
    assert stored == {"big": {"n": 2**70, "é": "ü"}, "keys": {"1": "one"}}
