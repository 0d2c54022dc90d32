"""Where the policy's FHIR content is published (SPEC section 6: `{base}/fhir/...`). A policy
folder is written against one canonical base (`canonicalBase` in policy.json); the service
publishes it under its own `BASE_URL` + `/fhir`, so a DTR client that takes the payer's endpoint
from a Questionnaire's canonical (the public reference app does) reaches this service.

Inside, the engine keeps the folder's URLs (its ELM and terminology name them); everything that
leaves the service (content, coverage information, pre-filled codings) carries the published
ones. A `Rebase` maps the first to the second, in one place.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from service.policy.folder import Policy
from service.types import Resource


@dataclass(frozen=True)
class Rebase:
    authored: str
    published: str

    def url(self, value: str) -> str:
        if value == self.authored or value.startswith(f"{self.authored}/"):
            return self.published + value[len(self.authored) :]
        return value

    def text(self, value: str) -> str:
        """Every canonical under the authored base in a text (CQL, ELM, FHIR JSON)."""
        return value.replace(f"{self.authored}/", f"{self.published}/")

    def resource(self, resource: Resource) -> Resource:
        if self.authored == self.published:
            return resource
        rebased: Resource = json.loads(self.text(json.dumps(resource)))
        return rebased


def published_base(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/fhir"


def rebase_of(policy: Policy) -> Rebase:
    return Rebase(policy.authored_base, policy.canonical_base)


def published(policy: Policy, base_url: str) -> Policy:
    """The policy as the service publishes it: its canonical base and questionnaire under
    `base_url`; its terminology and triggers as the folder wrote them (the engine's view)."""
    rebase = Rebase(policy.authored_base, published_base(base_url))
    return dataclasses.replace(
        policy,
        canonical_base=rebase.published,
        questionnaire=rebase.url(policy.questionnaire),
    )
