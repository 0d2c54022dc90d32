"""Tables. Changing one means a new Alembic revision in `migrations/versions/`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The client a row belongs to when client authentication is off (development): no registered
# client_id is empty, so such rows are never any registered client's.
NO_CLIENT = ""
# What a reviewer still has to decide: a prior-authorization request in one of these states is open.
OPEN_STATES = ("pended", "more-info")
OPEN_ORDER_WHERE = f"status IN ({', '.join(repr(s) for s in OPEN_STATES)})"


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One hook call. No PHI beyond a keyed hash of the patient id and order references."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hook: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(128), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(255))
    patient_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    orders_in_scope: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)


class FeedbackEntry(Base):
    """One CDS Hooks feedback item, as the client sent it (card uuid, outcome, reasons)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    outcome_timestamp: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)


class CoverageAssertion(Base):
    """The evaluation behind one coverage-information assertion, for DTR to pre-fill from.
    Append-only (CRD found-11): each assertion given has its own random id and row; a re-sign
    adds one. Bound to who asked: the registered client, its FHIR server, the patient as that
    EHR names it."""

    __tablename__ = "coverage_assertion"

    assertion_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    client_id: Mapped[str] = mapped_column(String(255), default=NO_CLIENT)
    fhir_server: Mapped[str | None] = mapped_column(String(512))
    patient_id: Mapped[str | None] = mapped_column(String(255))
    policy_id: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str] = mapped_column(String(255))
    coverage_ref: Mapped[str] = mapped_column(String(255))
    hook_instance: Mapped[str] = mapped_column(String(128))
    evaluation: Mapped[dict[str, object]] = mapped_column(JSON)
    # A re-sign whose guidance was unchanged sends no update (CRD resp-35): its evaluation is
    # kept in a row of its own that continues the assertion the order still carries, and DTR
    # reads the newest such row (crd_answers.py current_evaluation). None: an assertion given.
    continues: Mapped[str | None] = mapped_column(String(64), index=True)


class HookAnswer(Base):
    """One CDS Hooks answer as sent (cards and system actions), with its hook call's context
    (never `fhirAuthorization`, never prefetch: the evidence used is in the assertions'
    evaluations). Append-only (CRD found-37), committed before the answer leaves."""

    __tablename__ = "hook_answer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hook: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(128), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(255), default=NO_CLIENT)
    fhir_server: Mapped[str | None] = mapped_column(String(512))
    patient_id: Mapped[str | None] = mapped_column(String(255))
    crd_version: Mapped[str] = mapped_column(String(16))
    context: Mapped[dict[str, object]] = mapped_column(JSON)
    response: Mapped[dict[str, object]] = mapped_column(JSON)


class DtrAccess(Base):
    """One access to patient data through DTR: who fetched a pre-fill, stored, read, searched or
    evaluated a response, with the patient as a keyed hash (like the hook audit)."""

    __tablename__ = "dtr_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    patient_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    status_code: Mapped[int] = mapped_column(Integer)


class ReviewerAction(Base):
    """One clinical reviewer's action on a prior-authorization case in the workbench: a case
    opened, approved, denied or more information asked; who, when, which case, with the patient
    as a keyed hash (like the hook and DTR audits)."""

    __tablename__ = "reviewer_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reviewer: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(64))
    patient_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[str | None] = mapped_column(String(255), index=True)
    status_code: Mapped[int] = mapped_column(Integer)


class JwtReplay(Base):
    """Each client-signed JWT's `jti` until the token expires, shared by every worker."""

    __tablename__ = "jwt_replay"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class StoredResponse(Base):
    """A QuestionnaireResponse as received, committed before it is acknowledged."""

    __tablename__ = "questionnaire_response"
    # Idempotent per client: another client's identical identifier is another response.
    __table_args__ = (
        UniqueConstraint("client_id", "identifier", name="uq_questionnaire_response_client"),
        Index("ix_questionnaire_response_patient", "client_id", "patient_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255), default=NO_CLIENT)
    fhir_server: Mapped[str | None] = mapped_column(String(512))
    patient_id: Mapped[str | None] = mapped_column(String(255))
    assertion_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resource: Mapped[dict[str, object]] = mapped_column(JSON)


class QuestionnaireErrorReport(Base):
    """One `Questionnaire/$log-questionnaire-errors` report (DTR 2.0.1): the Questionnaire a DTR
    client had trouble with and the OperationOutcome it sent, as sent (the client SHALL NOT put
    PHI in it), with who sent it. Committed before it is acknowledged."""

    __tablename__ = "questionnaire_error_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    questionnaire: Mapped[str] = mapped_column(String(512), index=True)
    outcome: Mapped[dict[str, object]] = mapped_column(JSON)


class PriorAuthRequest(Base):
    """One Da Vinci PAS request (`Claim/$submit`), as received, with what the policy engine made of
    it at receipt (`summary`: the same evaluation CRD and DTR use) and its current state. The
    decisions that moved it are `PriorAuthDecision` rows, append-only; `status`, `preauth_ref`
    and `claim_response` repeat the newest one for the queue and `$inquire`."""

    __tablename__ = "prior_auth_request"
    # Idempotent per client: the same Claim identifier again is the same request. One open
    # request per order: a second Claim for an order whose request is still pended is refused by
    # this index (a partial one: a decided request leaves it), whatever the writers' timing.
    __table_args__ = (
        UniqueConstraint("client_id", "identifier", name="uq_prior_auth_request_client"),
        Index("ix_prior_auth_request_queue", "status", "due_at"),
        Index(
            "uq_prior_auth_request_open_order",
            "order_key",
            unique=True,
            sqlite_where=text(OPEN_ORDER_WHERE),
            postgresql_where=text(OPEN_ORDER_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255), default=NO_CLIENT)
    fhir_server: Mapped[str | None] = mapped_column(String(512))
    patient_id: Mapped[str | None] = mapped_column(String(255))
    policy_id: Mapped[str | None] = mapped_column(String(64))
    order_ref: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of client, FHIR server, order and Coverage (storage/prior_auth.py order_key): the
    # same order from the same EHR site under the same coverage. NULL: no order to key on.
    order_key: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32))
    preauth_ref: Mapped[str | None] = mapped_column(String(64))
    bundle: Mapped[dict[str, object]] = mapped_column(JSON)
    summary: Mapped[dict[str, object]] = mapped_column(JSON)
    claim_response: Mapped[dict[str, object]] = mapped_column(JSON)


class PriorAuthDecision(Base):
    """One step of a request, append-only: pended at receipt, approved, denied, more information
    asked, updated or cancelled by the submitter; who, when, why, and the ClaimResponse sent."""

    __tablename__ = "prior_auth_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_text: Mapped[str | None] = mapped_column(String(2000))
    details: Mapped[dict[str, object]] = mapped_column(JSON)
    claim_response: Mapped[dict[str, object]] = mapped_column(JSON)


class ReviewerSession(Base):
    """A reviewer's signed-in session: the SHA-256 of the cookie's random token (the token itself
    is never stored), the form token its POSTs must carry, and when it ends."""

    __tablename__ = "reviewer_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(255))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginAttempts(Base):
    """Failed reviewer sign-ins counted for one username or one client address, shared by every
    worker and replica (service/auth/login_throttle.py). Keyed by an HMAC of the name or
    address under AUDIT_HASH_KEY, never the name itself; times in seconds since the epoch, as
    `jwt_replay`'s are, and the row is deleted once `forget_at` has passed."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float] = mapped_column(Float)
    lockouts: Mapped[int] = mapped_column(Integer)
    forget_at: Mapped[float] = mapped_column(Float, index=True)


class StoredSubscription(Base):
    """An R4 Subscription (Subscriptions R5 Backport, rest-hook, full resource) a client made to
    hear of its prior-authorization decisions; notifications go only about its own requests."""

    __tablename__ = "subscription"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    topic: Mapped[str] = mapped_column(String(512))
    # The requesting organization's identifier its filter names, and the payload content.
    organization: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(1024))
    headers: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(Integer, default=0)
    resource: Mapped[dict[str, object]] = mapped_column(JSON)


class NotificationEvent(Base):
    """One event of a Subscription (a decision it was to hear of), in its outbox: added in the
    decision's own transaction, with the event's number (Subscriptions Backport
    `eventsSinceSubscriptionStart`) and the ClaimResponse as decided; delivered, retried with
    backoff, or given up after the retry period. Delivery state only: no headers, no errors'
    words from the endpoint."""

    __tablename__ = "notification_event"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_number", name="uq_notification_event_number"),
        Index("ix_notification_event_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(64))
    event_number: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | given-up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last attempt failed, in our words ("HTTP 503", "ConnectError").
    last_error: Mapped[str | None] = mapped_column(String(64))
    focus: Mapped[dict[str, object]] = mapped_column(JSON)
