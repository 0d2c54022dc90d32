"""The coverage-information invariants of each CRD version, as their IGs state them: STU 2.0.1
crd-ci-q1..q5 (its ext-coverage-information StructureDefinition), STU 2.2 crd-ci-q1..q9. A rule
reads the extension's sub-extension values by url."""

from __future__ import annotations

from collections.abc import Callable

Values = dict[str, list[object]]
Rule = tuple[str, Callable[[Values], bool]]


def has(values: Values, url: str, code: object = None) -> bool:
    found = values.get(url, [])
    return bool(found) if code is None else code in found


def _reason_explained(reason_system: str, reason_codes: frozenset[str]) -> Callable[[Values], bool]:
    """2.2 crd-ci-q7: a reason is text, or codes from the version's value set."""

    def holds(values: Values) -> bool:
        for reason in values.get("reason", []):
            codings = reason.get("coding", []) if isinstance(reason, dict) else []
            known = all(
                c.get("system") == reason_system and c.get("code") in reason_codes for c in codings
            )
            if not (isinstance(reason, dict) and (reason.get("text") or (codings and known))):
                return False
        return True

    return holds


_DECIDING = ("covered", "pa-needed", "doc-needed")

STU_2_0_1: tuple[Rule, ...] = (
    # Questionnaire only when doc-needed exists and is not no-doc.
    (
        "crd-ci-q1",
        lambda v: (
            not has(v, "questionnaire")
            or (has(v, "doc-needed") and not has(v, "doc-needed", "no-doc"))
        ),
    ),
    # Anything but not-covered names pa-needed.
    ("crd-ci-q2", lambda v: has(v, "covered", "not-covered") or has(v, "pa-needed")),
    # info-needed only beside a conditional answer.
    (
        "crd-ci-q3",
        lambda v: not has(v, "info-needed") or any(has(v, k, "conditional") for k in _DECIDING),
    ),
    ("crd-ci-q4", lambda v: not (has(v, "pa-needed", "satisfied") and has(v, "doc-purpose", "PA"))),
    ("crd-ci-q5", lambda v: has(v, "pa-needed", "satisfied") == has(v, "satisfied-pa-id")),
)


def stu_2_2(reason_system: str, reason_codes: frozenset[str]) -> tuple[Rule, ...]:
    return (
        ("crd-ci-q1", lambda v: not has(v, "questionnaire") or has(v, "doc-needed")),
        ("crd-ci-q2", lambda v: not has(v, "covered", "not-covered") or not has(v, "pa-needed")),
        (
            "crd-ci-q3",
            lambda v: not any(has(v, k, "conditional") for k in _DECIDING) or has(v, "info-needed"),
        ),
        (
            "crd-ci-q4",
            lambda v: (
                not any(has(v, "pa-needed", c) for c in ("satisfied", "no-auth"))
                or not has(v, "doc-purpose", "withpa")
            ),
        ),
        ("crd-ci-q5", lambda v: has(v, "pa-needed", "satisfied") == has(v, "satisfied-pa-id")),
        ("crd-ci-q6", lambda v: not has(v, "info-needed", "OTH") or has(v, "reason")),
        ("crd-ci-q7", _reason_explained(reason_system, reason_codes)),
        (
            "crd-ci-q8",
            lambda v: (
                not any(p != "conditional" for p in v.get("doc-purpose", [])) or has(v, "reason")
            ),
        ),
        (
            "crd-ci-q9",
            lambda v: not any(has(v, k, "indeterminate") for k in _DECIDING) or has(v, "reason"),
        ),
    )
