"""The payer's clinical reviewers: who may sign in to the workbench (`/review`), and their sessions.

Accounts come from `REVIEWERS_FILE`, a JSON file `{"reviewers": [{"username": ..., "name": ...,
"passwordHash": "$argon2id$..."}]}` (hashes from `python -m service hash-password`); none
configured, nobody signs in. Passwords are checked with Argon2id (argon2-cffi), always against a
hash, also for an unknown username, so the answer takes as long and says the same either way; a
few at a time (service/auth/password_checks.py), once the sign-in throttle let the attempt through
(service/auth/login_throttle.py).

A session is a random token in an HttpOnly, SameSite=Strict cookie scoped to `/review`; only its
SHA-256 is stored, with the form token every POST must carry and when it ends (8 hours, a working
day). Signing out deletes it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.errors import ConfigurationError
from service.storage.tables import ReviewerSession

SESSION_LIFETIME = timedelta(hours=8)
COOKIE = "review_session"
# argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes, 4 lanes): each
# check briefly takes 64 MiB, only when someone signs in.
_HASHER = PasswordHasher()


@functools.cache
def _decoy() -> str:
    """Checked when the username is unknown, so an unknown name costs what a wrong password
    does. Made on first use: hashing takes Argon2's memory, which no worker should hold from
    start-up on."""
    return _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Reviewer:
    username: str
    name: str
    password_hash: str


class ReviewerAccounts:
    def __init__(self, reviewers: list[Reviewer]) -> None:
        self._by_name = {r.username: r for r in reviewers}

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, username: str) -> Reviewer | None:
        return self._by_name.get(username)

    def check(self, username: str, password: str) -> Reviewer | None:
        """The reviewer when the password is theirs; None otherwise, alike for unknown names."""
        found = self._by_name.get(username)
        try:
            _HASHER.verify(found.password_hash if found else _decoy(), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return found


def load_reviewers(path: Path | None) -> ReviewerAccounts:
    if path is None:
        return ReviewerAccounts([])
    try:
        data = json.loads(path.read_text())
        reviewers = [
            Reviewer(str(r["username"]), str(r.get("name") or r["username"]), r["passwordHash"])
            for r in data["reviewers"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"{path}: cannot read the reviewers: {error!r}") from None
    for reviewer in reviewers:
        if not reviewer.password_hash.startswith("$argon2"):
            raise ConfigurationError(f"{path}: {reviewer.username}'s passwordHash is not Argon2")
    return ReviewerAccounts(reviewers)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@dataclass(frozen=True)
class SignedIn:
    reviewer: str
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, reviewer: str, now: datetime) -> tuple[str, SignedIn]:
    """(the cookie's token, the session). Expired sessions are cleared on the way."""
    session.execute(delete(ReviewerSession).where(ReviewerSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(
        ReviewerSession(
            token_hash=_digest(token),
            reviewer=reviewer,
            csrf=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token, SignedIn(reviewer, csrf)


def find_session(session: Session, token: str | None, now: datetime) -> SignedIn | None:
    if not token:
        return None
    row = session.get(ReviewerSession, _digest(token))
    if row is None or _aware(row.expires_at) <= now:
        return None
    return SignedIn(row.reviewer, row.csrf)


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(ReviewerSession).where(ReviewerSession.token_hash == _digest(token)))


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given, expected)


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
