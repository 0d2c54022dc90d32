"""ValueSet/$expand over the published ValueSets: type and instance level, GET and POST, text
filter and paging, the 404 and 422 a client can get, and 400 for what it must not send."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

VS = "https://payer.example.org/fhir/ValueSet"
PRODUCTS = f"{VS}/blinatumomab-products"
EXPAND = "/fhir/ValueSet/$expand"
# blinatumomab-products, in the order its compose lists them.
PRODUCT_CODES = [
    "1597258",
    "1597263",
    "1597262",
    "1597267",
    "1597260",
    "1597266",
    "55513016001",
    "55513016021",
    "J9039",
]


def _expanded(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    value_set: dict[str, Any] = answer.json()
    return value_set


def _codes(value_set: dict[str, Any]) -> list[str]:
    return [c["code"] for c in value_set["expansion"].get("contains", [])]


def _parameters(**values: Any) -> dict[str, Any]:
    types = {"url": "valueUri", "count": "valueInteger", "offset": "valueInteger"}
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, types.get(name, "valueString"): value} for name, value in values.items()
        ],
    }


def test_type_level_expansion_is_the_whole_value_set(client: TestClient) -> None:
    value_set = _expanded(client.get(EXPAND, params={"url": PRODUCTS}))
    assert value_set["resourceType"] == "ValueSet" and value_set["url"] == PRODUCTS
    expansion = value_set["expansion"]
    assert expansion["total"] == len(PRODUCT_CODES) and expansion["offset"] == 0
    assert _codes(value_set) == PRODUCT_CODES
    assert expansion["timestamp"].endswith("+00:00")
    assert all(c["system"] and c["display"] for c in expansion["contains"])
    get_fhir_model_class("ValueSet").model_validate(value_set)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"url": f"{PRODUCTS}|2023.2"}, id="version-in-url"),
        pytest.param({"url": PRODUCTS, "valueSetVersion": "2023.2"}, id="valueSetVersion"),
        pytest.param(
            {"url": f"{PRODUCTS}|2023.2", "valueSetVersion": "2023.2"}, id="both-agreeing"
        ),
        # As Smart Forms asks: the answerValueSet's url and version apart.
        pytest.param({"url": PRODUCTS, "version": "2023.2"}, id="version-as-renderers-send-it"),
    ],
)
def test_a_version_we_publish_is_expanded(client: TestClient, params: dict[str, str]) -> None:
    assert _codes(_expanded(client.get(EXPAND, params=params))) == PRODUCT_CODES


@pytest.mark.parametrize(
    ("count", "offset", "expected"),
    [
        pytest.param(4, None, PRODUCT_CODES[:4], id="first-page"),
        pytest.param(3, 2, PRODUCT_CODES[2:5], id="middle-page"),
        pytest.param(5, 7, PRODUCT_CODES[7:], id="last-page-short"),
        pytest.param(None, 8, PRODUCT_CODES[8:], id="offset-only"),
        pytest.param(5, 9, [], id="past-the-end"),
        pytest.param(0, None, [], id="count-0-asks-only-the-total"),
    ],
)
def test_paging(
    client: TestClient, count: int | None, offset: int | None, expected: list[str]
) -> None:
    params: dict[str, Any] = {"url": PRODUCTS}
    params |= {"count": count} if count is not None else {}
    params |= {"offset": offset} if offset is not None else {}
    value_set = _expanded(client.get(EXPAND, params=params))
    assert value_set["expansion"]["total"] == len(PRODUCT_CODES), "total counts every match"
    assert value_set["expansion"]["offset"] == (offset or 0)
    assert _codes(value_set) == expected
    echoed = {p["name"]: p["valueInteger"] for p in value_set["expansion"].get("parameter", [])}
    assert echoed == {k: v for k, v in (("count", count), ("offset", offset)) if v is not None}
    get_fhir_model_class("ValueSet").model_validate(value_set)  # no empty arrays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "blincyto",
            ["1597263", "1597267", "1597266", "55513016001", "55513016021"],
            id="display-lowercase",
        ),
        pytest.param(
            "BLINCYTO",
            ["1597263", "1597267", "1597266", "55513016001", "55513016021"],
            id="display-uppercase",
        ),
        pytest.param("j90", ["J9039"], id="code-case-insensitive"),
        pytest.param("55513-0160", ["55513016001", "55513016021"], id="display-only-match"),
        pytest.param("0.035 mg", ["1597262", "1597267"], id="words-in-display"),
        pytest.param("no such thing", [], id="nothing-matches"),
    ],
)
def test_filter_matches_code_or_display(client: TestClient, text: str, expected: list[str]) -> None:
    value_set = _expanded(client.get(EXPAND, params={"url": PRODUCTS, "filter": text}))
    assert _codes(value_set) == expected
    assert value_set["expansion"]["total"] == len(expected)
    assert {"name": "filter", "valueString": text} in value_set["expansion"]["parameter"]


def test_filter_and_paging_together(client: TestClient) -> None:
    params = {"url": PRODUCTS, "filter": "Blincyto", "count": 2, "offset": 1}
    value_set = _expanded(client.get(EXPAND, params=params))
    assert value_set["expansion"]["total"] == 5
    assert _codes(value_set) == ["1597267", "1597266"]


def test_post_with_parameters_answers_like_get(client: TestClient) -> None:
    body = _parameters(url=PRODUCTS, filter="blincyto", count=2, offset=1)
    posted = _expanded(client.post(EXPAND, json=body))
    got = _expanded(
        client.get(EXPAND, params={"url": PRODUCTS, "filter": "blincyto", "count": 2, "offset": 1})
    )
    assert posted["expansion"]["contains"] == got["expansion"]["contains"]
    assert posted["expansion"]["total"] == got["expansion"]["total"] == 5


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_instance_level(client: TestClient, method: str) -> None:
    path = "/fhir/ValueSet/phase-answers/$expand"
    answer = (
        client.get(path, params={"filter": "relapse"})
        if method == "GET"
        else client.post(path, json=_parameters(filter="relapse"))
    )
    assert _codes(_expanded(answer)) == ["relapsed-refractory"]


def test_instance_level_takes_its_own_url(client: TestClient) -> None:
    path = "/fhir/ValueSet/phase-answers/$expand"
    assert client.get(path, params={"url": f"{VS}/phase-answers"}).status_code == 200
    assert client.get(path, params={"url": PRODUCTS}).status_code == 400


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(EXPAND, {"url": f"{VS}/no-such-value-set"}, id="unknown-url"),
        pytest.param(EXPAND, {"url": PRODUCTS, "valueSetVersion": "1999"}, id="unknown-version"),
        pytest.param("/fhir/ValueSet/no-such-value-set/$expand", {}, id="unknown-id"),
    ],
)
def test_an_unknown_value_set_is_a_404_operation_outcome(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/fhir+json"
    (issue,) = answer.json()["issue"]
    assert answer.json()["resourceType"] == "OperationOutcome" and issue["code"] == "not-found"


def test_a_value_set_defined_by_filters_is_a_422_saying_why(client: TestClient) -> None:
    url = f"{VS}/lymphoid-hematopoietic-malignancies"
    answer = client.get(EXPAND, params={"url": url})
    assert answer.status_code == 422
    (issue,) = answer.json()["issue"]
    assert issue["code"] == "not-supported"
    assert (
        "by filter" in issue["diagnostics"]
        and "icd-10-cm concept is-a C81" in (issue["diagnostics"])
    )
    assert client.get("/fhir/ValueSet/lymphoid-hematopoietic-malignancies/$expand").status_code == (
        422
    )


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        pytest.param({}, "give url", id="no-url"),
        pytest.param({"url": ""}, "give url", id="empty-url"),
        pytest.param({"url": PRODUCTS, "count": "-1"}, "count", id="negative-count"),
        pytest.param({"url": PRODUCTS, "count": "ten"}, "count", id="count-not-a-number"),
        pytest.param({"url": PRODUCTS, "offset": "1.5"}, "offset", id="offset-not-an-integer"),
        pytest.param(
            {"url": f"{PRODUCTS}|2023.2", "valueSetVersion": "2024.1"},
            "version",
            id="versions-disagree",
        ),
        pytest.param(
            {"url": PRODUCTS, "version": "2023.2", "valueSetVersion": "2024.1"},
            "disagree",
            id="version-and-valueSetVersion-disagree",
        ),
        pytest.param(
            {"url": PRODUCTS, "displayLanguage": "de"}, "not supported", id="unsupported-parameter"
        ),
    ],
)
def test_bad_get_parameters_are_a_400(
    client: TestClient, params: dict[str, str], mentions: str
) -> None:
    answer = client.get(EXPAND, params=params)
    assert answer.status_code == 400, answer.text
    assert mentions in answer.json()["issue"][0]["diagnostics"]


def test_a_parameter_given_twice_is_a_400(client: TestClient) -> None:
    answer = client.get(f"{EXPAND}?url={PRODUCTS}&filter=a&filter=b")
    assert answer.status_code == 400
    assert "more than once" in answer.json()["issue"][0]["diagnostics"]


def _body(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


URL = {"name": "url", "valueUri": PRODUCTS}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        pytest.param({"resourceType": "ValueSet"}, "Parameters", id="not-parameters"),
        pytest.param(
            _body({"name": "url", "valueString": PRODUCTS}), "valueUri", id="url-not-valueUri"
        ),
        pytest.param(
            _body(URL, {"name": "count", "valueString": "2"}),
            "valueInteger",
            id="count-not-valueInteger",
        ),
        pytest.param(
            _body(URL, {"name": "count", "valueInteger": True}),
            "valueInteger",
            id="count-a-boolean",
        ),
        pytest.param(
            _body(URL, {"name": "count", "valueInteger": -2}),
            "non-negative",
            id="negative-valueInteger",
        ),
        pytest.param(
            _body(URL, {"name": "valueSet", "resource": {"resourceType": "ValueSet"}}),
            "not supported",
            id="valueSet-to-expand-in-the-body",
        ),
        pytest.param(_body(URL, URL), "more than once", id="url-twice"),
        pytest.param(_body({}), "name", id="parameter-without-name"),
    ],
)
def test_bad_post_bodies_are_a_400(client: TestClient, body: dict[str, Any], mentions: str) -> None:
    answer = client.post(EXPAND, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert mentions in answer.json()["issue"][0]["diagnostics"]


def test_a_post_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    answer = client.post(EXPAND, content=b"{", headers={"content-type": "application/fhir+json"})
    assert answer.status_code == 400


def test_expand_is_public_like_the_content_reads(secured: TestClient) -> None:
    """Published content holds no patient data; DTR clients expand before any token exists."""
    assert secured.get(EXPAND, params={"url": PRODUCTS}).status_code == 200
    assert secured.post(EXPAND, json=_parameters(url=PRODUCTS)).status_code == 200
