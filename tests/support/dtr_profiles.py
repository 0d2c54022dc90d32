"""Checks of DTR STU 2.0.1 shapes, written from the IG package the public DTR conformance kit
validates against (../shared/conformance/dtr/ig): the QuestionnaireResponse profile's extension
slices and their cardinality, `subject`, `authored`, qrs-1, information-origin with dtrx-1 and the
origin codes of its value set, intendedUse from CRD's DocReason, and the questionnaire package's
output Parameters and Bundle (Questionnaire first, oper-12 to oper-16). Terminology is read from
the package; nothing is fetched."""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter
from functools import lru_cache
from typing import Any

from service.settings import PROJECT_ROOT

CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"

SHARED = PROJECT_ROOT.parent / "shared" / "conformance"
DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
ORIGIN = f"{DTR}information-origin"


@lru_cache(maxsize=2)
def _package(name: str) -> dict[str, Any]:
    with tarfile.open(SHARED / name) as archive:
        return {
            member.name.rsplit("/", 1)[-1]: json.load(archive.extractfile(member))  # type: ignore[arg-type]
            for member in archive.getmembers()
            if member.isfile()
            and member.name.endswith(".json")
            and "/package/" in f"/{member.name}"
        }


def dtr(name: str) -> dict[str, Any]:
    return _package("dtr/ig/davinci-dtr-2.0.1.tgz")[name]


def _codes(value_set: dict[str, Any]) -> set[str]:
    return {c["code"] for i in value_set["compose"]["include"] for c in i.get("concept", [])}


@lru_cache(maxsize=1)
def _response_slices() -> dict[str, tuple[int, str, str]]:
    """extension url -> (min, max, slice name) for QuestionnaireResponse.extension."""
    found = {}
    for element in dtr("StructureDefinition-dtr-questionnaireresponse.json")["snapshot"]["element"]:
        if (
            element["id"].startswith("QuestionnaireResponse.extension:")
            and element["id"].count(".") == 1
        ):
            profile = element["type"][0]["profile"][0]
            found[profile] = (element["min"], element["max"], element["sliceName"])
    return found


def response_problems(response: dict[str, Any]) -> list[str]:
    problems = []
    counts = Counter(e.get("url") for e in response.get("extension", []))
    for url, (low, high, name) in _response_slices().items():
        if counts[url] < low:
            problems.append(f"extension:{name} {counts[url]} < {low}")
        if high != "*" and counts[url] > int(high):
            problems.append(f"extension:{name} {counts[url]} > {high}")
    for field in ("questionnaire", "status", "subject", "authored"):
        if not response.get(field):
            problems.append(f"{field} missing (1..1)")
    if not response.get("item"):
        problems.append("item missing (1..*)")
    doc_reasons = _codes(_package("crd/ig/davinci-crd-2.0.1.tgz")["ValueSet-DocReason.json"])
    for extension in response.get("extension", []):
        if extension.get("url") == f"{DTR}intendedUse":
            codes = [c.get("code") for c in extension["valueCodeableConcept"].get("coding", [])]
            if not set(codes) & doc_reasons:
                problems.append(f"intendedUse {codes} not in DocReason")
        if extension.get("url") == f"{DTR}qr-context" and "valueReference" not in extension:
            problems.append("qr-context without valueReference")
    problems += _item_problems(response.get("item", []))
    return problems


def _item_problems(items: list[dict[str, Any]]) -> list[str]:
    origins = _codes(dtr("ValueSet-informationOrigins.json"))
    problems = []
    for item in items:
        if item.get("answer") and item.get("item"):
            problems.append(f"{item['linkId']}: qrs-1 (item beneath both item and answer)")
        for answer in item.get("answer", []):
            problems += [f"{item['linkId']}: {p}" for p in origin_problems(answer, origins)]
        problems += _item_problems(item.get("item", []))
    return problems


def origin_problems(answer: dict[str, Any], origins: set[str]) -> list[str]:
    found = [e for e in answer.get("extension", []) if e.get("url") == ORIGIN]
    if len(found) != 1:
        return [f"{len(found)} information-origin extensions"]
    parts = found[0].get("extension", [])
    sources = [p.get("valueCode") for p in parts if p.get("url") == "source"]
    authors = [p for p in parts if p.get("url") == "author"]
    problems = []
    if len(sources) != 1 or sources[0] not in origins:
        problems.append(f"source {sources} not one of {sorted(origins)}")
    # dtrx-1: an author exactly when the answer is not `auto`.
    if (sources == ["auto"]) == bool(authors):
        problems.append(f"dtrx-1: source {sources} with {len(authors)} author(s)")
    for author in authors:
        if any(key.startswith("value") for key in author) or not author.get("extension"):
            problems.append("author is an extension of role/practitioner parts")
    return problems


def package_problems(parameters: dict[str, Any]) -> list[str]:
    problems = []
    names = [p["name"] for p in parameters.get("parameter", [])]
    if names.count("PackageBundle") < 1:
        problems.append(f"no PackageBundle parameter: {names}")
    for parameter in parameters.get("parameter", []):
        if parameter["name"] not in ("PackageBundle", "operationOutcome"):
            problems.append(f"unknown output parameter {parameter['name']}")
        if parameter["name"] == "PackageBundle":
            problems += bundle_problems(parameter["resource"])
    return problems


def bundle_problems(bundle: dict[str, Any]) -> list[str]:
    resources = [e["resource"] for e in bundle.get("entry", [])]
    problems = []
    if not resources or resources[0]["resourceType"] != "Questionnaire":
        problems.append("the Questionnaire is not the first entry")
    present = {
        f"{r['url']}|{r.get('version')}" for r in resources if r.get("url") and r.get("version")
    }
    # A canonical URL that names its version (".../Library/Name-1.2.3", version 1.2.3) is
    # version-specific by itself (docs/decisions/0009).
    present |= {
        r["url"] for r in resources if r.get("version") and r["url"].endswith(f"-{r['version']}")
    }
    libraries = [r for r in resources if r["resourceType"] == "Library"]
    urls = {r["url"] for r in libraries}
    names = {r.get("name") for r in libraries}
    for resource in resources:
        for canonical in _references(resource):
            if canonical in present:
                continue
            if "|" not in canonical:
                problems.append(f"{resource['resourceType']} refers to {canonical} without version")
            else:
                problems.append(f"{canonical} is not in the package")
        if resource["resourceType"] == "Questionnaire":
            # The DTR test kit's library check: each cqf-library, as written, is the url of a
            # Library in the package (a string comparison, no canonical matching).
            for extension in resource.get("extension", []):
                if extension["url"] == CQF_LIBRARY and extension["valueCanonical"] not in urls:
                    problems.append(f"cqf-library {extension['valueCanonical']} is no Library url")
            problems += _expression_problems(resource, names)
        if resource["resourceType"] == "Library":
            kinds = {c["contentType"] for c in resource.get("content", [])}
            if not {"text/cql", "application/elm+json"} <= kinds:
                problems.append(f"Library {resource['id']} lacks CQL or ELM (oper-13)")
        if resource["resourceType"] == "Questionnaire" and not resource.get("text"):
            problems.append("the Questionnaire has no narrative")
        if resource["resourceType"] == "QuestionnaireResponse":
            problems += response_problems(resource)
    return problems


# DTR "CQL constraints": an expression names a define as `"LibraryName".statementName`. The
# statement is a plain identifier, so a client that splits at the dot and does not unquote
# (the public reference app) finds it too; the DTR test kit checks the quoted library name.
_DEFINE_REFERENCE = re.compile(r'^"([^"]+)"\.[A-Za-z_][A-Za-z0-9_]*$')


def _expression_problems(questionnaire: dict[str, Any], libraries: set[Any]) -> list[str]:
    problems = []
    for item in _all_items(questionnaire):
        for extension in item.get("extension", []):
            expression = extension.get("valueExpression") or {}
            if expression.get("language") != "text/cql":
                continue
            found = _DEFINE_REFERENCE.match(expression.get("expression", ""))
            if found is None or found.group(1) not in libraries:
                problems.append(
                    f"{item['linkId']}: {expression.get('expression')!r} is not "
                    '"LibraryName".statementName of a package library'
                )
    return problems


def _references(resource: dict[str, Any]) -> list[str]:
    found = [
        e["valueCanonical"] for e in resource.get("extension", []) if e.get("url") == CQF_LIBRARY
    ]
    found += [
        a["resource"] for a in resource.get("relatedArtifact", []) if a.get("type") == "depends-on"
    ]
    found += [i["answerValueSet"] for i in _all_items(resource) if i.get("answerValueSet")]
    return found


def _all_items(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource.get("resourceType") != "Questionnaire":
        return []
    pending, found = list(resource.get("item", [])), []
    while pending:
        item = pending.pop()
        found.append(item)
        pending += item.get("item", [])
    return found
