"""The public DTR conformance kit's check of a static questionnaire package's expressions, ported
(inferno-framework/davinci-dtr-test-kit, lib/davinci_dtr_test_kit/cql_test.rb:
verify_questionnaire_extensions, verify_questionnaire_items, check_libraries): DTR 2.0.1 says
expression logic SHALL be CQL. Each Library carries CQL and ELM under a name no other Library
in the package has; every cqf-library names a Library of the package; the variable,
itemPopulationContext, initialExpression, candidateExpression and contextExpression expressions are
`text/cql` and start with a reference to a package library (`"Name".Define`).

Stricter than the kit in one place: every other expression too (calculatedExpression,
enableWhenExpression, ...) must be CQL, because the kit only notes those. An expression's
cqf-alternativeExpression (its equivalent in another language, for renderers without CQL) is not
the expression, and is not checked."""

from __future__ import annotations

from typing import Any

CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"
CQL = "text/cql"
ELM = "application/elm+json"


def package_expression_problems(bundle: dict[str, Any]) -> list[str]:
    resources = [e["resource"] for e in bundle.get("entry", [])]
    libraries = [r for r in resources if r["resourceType"] == "Library"]
    questionnaires = [r for r in resources if r["resourceType"] == "Questionnaire"]
    problems = [] if libraries else ["no Libraries found"]
    problems += [] if questionnaires else ["no Questionnaire found"]
    problems += _library_problems(libraries)
    names = {str(library.get("name")) for library in libraries}
    canonicals = {str(lib.get("url")) for lib in libraries} | {
        f"{lib.get('url')}|{lib.get('version')}" for lib in libraries
    }
    for questionnaire in questionnaires:
        found = [e for e in questionnaire.get("extension", []) if e.get("url") == CQF_LIBRARY]
        problems += [
            f"cqf-library {e.get('valueCanonical')} is not in the package"
            for e in found
            if e.get("valueCanonical") not in canonicals
        ]
        expressions = list(_expressions(questionnaire.get("extension", []), "(questionnaire)"))
        expressions += list(_item_expressions(questionnaire.get("item", [])))
        if not expressions:
            problems.append("no expressions: the Questionnaire must demonstrate pre-population")
        for where, url, expression in expressions:
            problems += _expression_problems(where, url, expression, names)
    return problems


def _library_problems(libraries: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for library in libraries:
        url = library.get("url")
        types = [c.get("contentType") for c in library.get("content", []) if c.get("data")]
        if CQL not in types:
            problems.append(f"library {url} does not include CQL")
        if ELM not in types:
            problems.append(f"library {url} does not include ELM")
        if library.get("name") in seen:
            problems.append(f"library {url}: the name {library.get('name')} is already used")
        seen.add(str(library.get("name")))
    return problems


def _expressions(extensions: list[dict[str, Any]], where: str) -> Any:
    for extension in extensions:
        if "valueExpression" in extension:
            yield where, extension["url"], extension["valueExpression"]


def _item_expressions(items: list[dict[str, Any]]) -> Any:
    for item in items:
        yield from _expressions(item.get("extension", []), item["linkId"])
        yield from _item_expressions(item.get("item", []))


def _expression_problems(
    where: str, url: str, expression: dict[str, Any], names: set[str]
) -> list[str]:
    kind = url.rsplit("/", 1)[-1]
    if expression.get("language") != CQL:
        return [f"{where}: {kind} is {expression.get('language')}, not CQL"]
    text = str(expression.get("expression", ""))
    if not any(text.startswith(f'"{name}".') for name in names):
        return [f"{where}: {kind} {text!r} does not begin with a package library's name"]
    return []
