// The prescriber's prior-authorization form (DTR SMART app). After the SMART launch it reads the
// order, coverage and patient from the EHR, asks this payer service for the questionnaire package
// (Questionnaire + a response pre-filled from the record), renders it with LHC-Forms, shows the
// policy's criteria live as answers change ($evaluate), saves drafts to the EHR and submits the
// completed response to the EHR and to the payer.
import FHIR from "fhirclient";
import {
  ASSERTION_TAG,
  INFORMATION_ORIGIN,
  annotateOrigins,
  answerValues,
  findContext,
  launchContext,
  missingRequired,
  parseAppContext,
} from "./responses.js";
import { localToday, recordPrefill } from "./record-prefill.js";

const PAYER = new URL("..", window.location.href).href.replace(/\/$/, "");
const QR_PROFILE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse";
const QR_CONTEXT = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context";
const INTENDED_USE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse";
const FHIR_JSON = "application/fhir+json";
// The order types a CRD hook may name (CDS Hooks order-sign draftOrders): the first in the
// launch's fhirContext is the order the form is about.
const ORDER_TYPES = ["MedicationRequest", "ServiceRequest", "DeviceRequest", "NutritionOrder", "VisionPrescription", "CommunicationRequest"];
// The record pre-fill may not hold the form back for longer than this.
const RECORD_PREFILL_TIMEOUT_MS = 20000;

const $ = (id) => document.getElementById(id);
const session = {
  client: null,
  patient: null,
  order: null,
  coverage: null,
  assertionId: null,
  payerToken: null,
  payerTokenExpires: 0,
  questionnaire: null,
  canonical: null,
  prefilled: new Map(),
  draft: null, // the EHR's copy of this form while in progress
  identifier: null, // stable per form: makes the payer submission idempotent
  evaluatedKey: null,
  evaluating: false,
};

main().catch((error) => problem(error.message || String(error)));

async function main() {
  document.body.dataset.state = "loading";
  const client = await FHIR.oauth2.ready();
  session.client = client;
  const token = client.state.tokenResponse || {};
  const context = findContext(token.fhirContext);
  const app = parseAppContext(token.appContext);

  session.patient = await client.patient.read();
  const orderRef = ORDER_TYPES.map((type) => context[type]).find(Boolean) || app.order;
  if (!orderRef) throw new Error("The EHR launched the form without an order in context.");
  session.order = await client.request(orderRef);
  const launch = launchContext(context, app, session.order);
  session.assertionId = launch.coverageAssertionId;
  session.coverage = launch.coverage ? await client.request(launch.coverage) : null;
  showHeader();

  const [bundle, LForms] = await Promise.all([questionnairePackage(launch), lformsReady()]);
  const entries = (bundle.entry || []).map((e) => e.resource);
  session.questionnaire = entries.find((r) => r.resourceType === "Questionnaire");
  const prefilled = entries.filter((r) => r.resourceType === "QuestionnaireResponse").pop();
  if (!session.questionnaire || !prefilled) throw new Error("The payer sent no questionnaire.");
  showTitle(session.questionnaire);
  session.questionnaireLinkIds = linkIds(session.questionnaire.item);
  session.displays = new Map(
    entries
      .filter((r) => r.resourceType === "ValueSet")
      .flatMap((v) => (v.expansion?.contains || []).map((c) => [c.code, c.display])),
  );
  showHeader(); // the order's name may come from the package's ValueSets
  session.canonical = prefilled.questionnaire;
  // What the documentation is for (DTR intendedUse), as the payer said it in the package.
  session.intendedUse = (prefilled.extension || []).filter((e) => e.url === INTENDED_USE);
  for (const [linkId, answer] of answerValues(prefilled)) session.prefilled.set(linkId, answer);

  const draft = await savedDraft(context.QuestionnaireResponse);
  session.draft = draft;
  session.identifier = draft?.identifier || {
    system: "urn:ietf:rfc:3986",
    value: `urn:uuid:${crypto.randomUUID()}`,
  };
  const starting = draft || (await withRecordAnswers(entries, prefilled));

  const rendered = withAnswerOptions(session.questionnaire, entries, starting);
  const form = LForms.Util.convertFHIRQuestionnaireToLForms(rendered, "R4");
  const filled = LForms.Util.mergeFHIRDataIntoLForms("QuestionnaireResponse", starting, form, "R4");
  $("workspace").hidden = false;
  await LForms.Util.addFormToPage(filled, $("form"), { prepopulate: false });
  if (draft) $("save-status").textContent = `Resumed the draft saved ${when(draft.authored)}.`;

  $("save").addEventListener("click", () => guarded(saveDraft));
  $("submit").addEventListener("click", () => guarded(submit));
  $("form").addEventListener("change", () => refresh());
  $("form").addEventListener("input", () => refresh());
  // Autocomplete lists and date pickers do not always emit DOM events: also look every second.
  setInterval(() => refresh(), 1000);
  await refresh();
  document.body.dataset.state = "ready";
}

// What the payer's pre-fill left open, answered by the package's CQL over the EHR's record (a
// fresh form only: a resumed draft holds what the prescriber chose, empty answers included).
// Failing to read the record or run the CQL leaves those questions open, with a quiet notice.
async function withRecordAnswers(resources, prefilled) {
  const notice = $("record-notice");
  try {
    const { response, filled } = await withTimeout(
      recordPrefill({
        client: session.client,
        patient: session.patient,
        order: session.order,
        resources,
        prefilled,
        today: localToday(),
      }),
      RECORD_PREFILL_TIMEOUT_MS,
    );
    for (const [linkId, answer] of answerValues(response)) {
      if (filled.includes(linkId)) session.prefilled.set(linkId, answer);
    }
    notice.dataset.filled = filled.join(" ");
    if (filled.length) notice.textContent = `${filled.length} more answer${filled.length > 1 ? "s" : ""} found in the record.`;
    return response;
  } catch (error) {
    notice.dataset.failed = "true";
    notice.textContent = "The record could not be searched for the remaining answers: please answer them below.";
    console.warn("record pre-fill failed:", error);
    return prefilled;
  }
}

function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// DTR packages carry the answer ValueSets beside the Questionnaire. LHC-Forms would look them up
// on a terminology server; the renderer gets them inline as answerOption instead (a copy: the
// Questionnaire itself, and the canonical the response names, stay the payer's). An open-choice
// answer the record gave that is not among the options (a diagnosis code outside the policy's
// list) joins the options, so the prescriber sees it rather than an empty field.
function withAnswerOptions(questionnaire, resources, response) {
  const given = answerValues(response);
  const valueSets = resources.filter((r) => r.resourceType === "ValueSet");
  const find = (canonical) => {
    const [url, version] = canonical.split("|");
    return valueSets.find((v) => v.url === url && (!version || v.version === version));
  };
  const copy = structuredClone(questionnaire);
  const walk = (items) => {
    for (const item of items || []) {
      const valueSet = item.answerValueSet && find(item.answerValueSet);
      if (valueSet?.expansion?.contains) {
        item.answerOption = valueSet.expansion.contains.map(({ system, code, display }) => ({
          valueCoding: { system, code, display },
        }));
        delete item.answerValueSet;
      }
      const coding = given.get(item.linkId)?.valueCoding;
      if (item.type === "open-choice" && coding) {
        item.answerOption = item.answerOption || [];
        const listed = item.answerOption.some(
          (o) => o.valueCoding?.code === coding.code && o.valueCoding?.system === coding.system,
        );
        if (!listed) item.answerOption.push({ valueCoding: { ...coding, display: coding.display || coding.code } });
      }
      walk(item.item);
    }
  };
  walk(copy.item);
  return copy;
}

// LHC-Forms' web component defines window.LForms when its modules have run; its FHIR support file
// attaches to that object, so it is loaded only then (loading both up front races).
async function lformsReady() {
  const LForms = await waitFor(() => window.LForms?.Util?.addFormToPage && window.LForms, "the form renderer");
  if (!LForms.FHIR?.R4) {
    const script = document.createElement("script");
    script.src = "lforms/lformsFHIR.min.js";
    document.head.append(script);
    await waitFor(() => LForms.FHIR?.R4, "the form renderer's FHIR support");
  }
  return LForms;
}

function waitFor(found, what, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const look = () => {
      const value = found();
      if (value) resolve(value);
      else if (Date.now() - started > timeoutMs) reject(new Error(`${what} did not load.`));
      else setTimeout(look, 50);
    };
    look();
  });
}

// The payer's DTR API takes a payer access token (SMART Backend Services on the payer's side).
// This app holds no secret of its own: it trades the access token of its EHR launch for a
// short-lived payer token bound to this launch's patient (an RFC 8693 token exchange at the
// payer's token endpoint, which asks the EHR's token introspection whose launch the token is).
async function payerToken(renew = false) {
  if (session.payerToken && !renew && Date.now() < session.payerTokenExpires) return session.payerToken;
  const client = session.client;
  const form = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: client.state.tokenResponse.access_token,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    fhir_server: client.state.serverUrl,
    patient: client.patient.id,
  });
  const response = await fetch(`${PAYER}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: form,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || !answer.access_token) {
    throw new Error(`The payer did not accept this launch: ${answer.error_description || response.status}`);
  }
  session.payerToken = answer.access_token;
  // Renewed a little before it runs out, so a request never leaves with an expired token.
  session.payerTokenExpires = Date.now() + Math.max(answer.expires_in - 30, 5) * 1000;
  return session.payerToken;
}

async function payer(path, body) {
  let response = await payerCall(path, body, await payerToken());
  if (response.status === 401) response = await payerCall(path, body, await payerToken(true));
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

function payerCall(path, body, token) {
  return fetch(`${PAYER}${path}`, {
    method: "POST",
    headers: { "Content-Type": FHIR_JSON, Accept: FHIR_JSON, Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

function outcomeText(body) {
  const issues = body?.resourceType === "OperationOutcome" ? body.issue || [] : [];
  return issues.map((i) => i.diagnostics || i.details?.text).filter(Boolean).join("; ");
}

// $questionnaire-package with the CRD coverage-assertion-id, so the form is pre-filled from the
// payer's evaluation of the whole record (the payer stores an assertion before its CRD answer
// leaves, so it is there at once). An assertion the payer does not know (older than its retention,
// or given to another EHR) falls back to what the order and coverage alone pre-fill, and the
// response no longer names it: the payer evaluates what is submitted on its own.
async function questionnairePackage(launch) {
  const base = [{ name: "order", resource: session.order }];
  if (session.coverage) base.push({ name: "coverage", resource: session.coverage });
  if (launch.questionnaire) base.push({ name: "questionnaire", valueCanonical: launch.questionnaire });
  if (session.assertionId) {
    const answer = await payer("/fhir/Questionnaire/$questionnaire-package", {
      resourceType: "Parameters",
      parameter: [...base, { name: "context", valueString: session.assertionId }],
    });
    if (answer.status === 200) return packageBundle(answer.body);
    if (answer.status !== 404) throw new Error(`The payer could not send the form: ${outcomeText(answer.body)}`);
  }
  const answer = await payer("/fhir/Questionnaire/$questionnaire-package", {
    resourceType: "Parameters",
    parameter: base,
  });
  if (answer.status !== 200) {
    throw new Error(`The payer could not send the form: ${outcomeText(answer.body)}`);
  }
  if (session.assertionId) {
    session.assertionId = null;
    $("save-status").textContent =
      "The payer's review of this order was not found; only the order pre-fills the form.";
  }
  return packageBundle(answer.body);
}

function packageBundle(parameters) {
  const found = (parameters?.parameter || []).find((p) => p.name === "PackageBundle");
  if (!found?.resource) throw new Error("The payer's answer holds no questionnaire package.");
  return found.resource;
}

// A draft saved earlier for this order (DTR "persisting application state"): the one the launch
// names, else the newest in-progress response in the EHR whose context is this order.
async function savedDraft(named) {
  const client = session.client;
  if (named) return client.request(named);
  const orderRef = reference(session.order);
  const bundle = await client.request(
    `QuestionnaireResponse?subject=Patient/${session.patient.id}&status=in-progress&_sort=-_lastUpdated`,
  );
  const drafts = (bundle.entry || []).map((e) => e.resource);
  return (
    drafts.find((qr) =>
      (qr.extension || []).some((e) => e.url === QR_CONTEXT && e.valueReference?.reference === orderRef),
    ) || null
  );
}

function reference(resource) {
  return `${resource.resourceType}/${resource.id}`;
}

function showHeader() {
  const p = session.patient;
  const name = p.name?.[0];
  const shown = name ? [name.given?.join(" "), name.family].filter(Boolean).join(" ") : `Patient ${p.id}`;
  $("patient").textContent = `${shown} · born ${p.birthDate || "unknown"} · ${p.gender || ""}`;
  $("order").textContent = `${orderedThing(session.order)}: ${orderedAmount(session.order)}`;
}

// What the order asks for, in its own words (the code's text or a display), else as the payer's
// ValueSets name its code, once the package has come.
function orderedThing(order) {
  const concept = order.medicationCodeableConcept || order.code || order.codeCodeableConcept || {};
  const codings = concept.coding || [];
  const named = codings.find((c) => c.display)?.display || codings.map((c) => session.displays?.get(c.code)).find(Boolean);
  return concept.text || named || "The order";
}

function orderedAmount(order) {
  const dosage = order.dosageInstruction?.[0]?.text;
  if (dosage) return dosage;
  const quantity = order.quantityQuantity;
  if (quantity?.value !== undefined) return `${number(quantity.value)} ${quantity.unit || quantity.code || ""}`.trim();
  return "no amount given on the order";
}

// The form's title, once the payer's Questionnaire is known.
function showTitle(questionnaire) {
  const title = questionnaire.title || questionnaire.name;
  if (!title) return;
  $("title").textContent = title;
  document.title = title;
}

function currentResponse(status) {
  const LForms = window.LForms;
  const qr = LForms.Util.getFormFHIRData("QuestionnaireResponse", "R4", $("form"));
  delete qr.id;
  qr.questionnaire = session.canonical;
  qr.status = status;
  qr.subject = { reference: `Patient/${session.patient.id}` };
  qr.authored = new Date().toISOString();
  qr.identifier = session.identifier;
  const fhirUser = session.client.getFhirUser?.() || null;
  if (fhirUser) qr.author = { reference: fhirUser };
  qr.meta = { profile: [QR_PROFILE] };
  if (session.assertionId) qr.meta.tag = [{ system: ASSERTION_TAG, code: session.assertionId }];
  qr.extension = [
    { url: QR_CONTEXT, valueReference: { reference: reference(session.order) } },
  ];
  if (session.coverage) {
    qr.extension.push({ url: QR_CONTEXT, valueReference: { reference: `Coverage/${session.coverage.id}` } });
  }
  qr.extension.push(...(session.intendedUse || []));
  annotateOrigins(qr, session.prefilled, fhirUser);
  return qr;
}

// ---------------------------------------------------------------- live criteria

async function refresh() {
  if (!window.LForms || !session.canonical || session.evaluating) return;
  const qr = currentResponse("in-progress");
  markOrigins(qr);
  showTodo(qr);
  const key = responseKey(qr);
  if (key === session.evaluatedKey) return;
  session.evaluating = true;
  try {
    const answer = await payer("/fhir/QuestionnaireResponse/$evaluate", qr);
    session.evaluatedKey = key;
    if (answer.status === 200) showEvaluation(answer.body);
    else showEvaluationProblem(outcomeText(answer.body));
  } finally {
    session.evaluating = false;
  }
}

function responseKey(qr) {
  return JSON.stringify(qr.item || []);
}

// For automation (browser tests, an integrator's checks): whether the criteria on screen are
// those of the answers on screen.
window.__dtr = {
  get evaluatedKey() {
    return session.evaluatedKey;
  },
  currentKey: () => (session.canonical ? responseKey(currentResponse("in-progress")) : undefined),
};

function parameters(body) {
  const list = body?.parameter || [];
  const value = (p) => {
    const key = Object.keys(p).find((k) => k.startsWith("value"));
    return key ? p[key] : undefined;
  };
  const parts = (p) => Object.fromEntries((p.part || []).map((part) => [part.name, value(part)]));
  return {
    outcome: value(list.find((p) => p.name === "outcome") || {}),
    criteria: list.filter((p) => p.name === "criterion").map(parts),
    // Each limit the policy declares, in its order: {id, kind, criterion, label, unit, value,
    // count, period, length, ordered, basis} (OperationDefinition/QuestionnaireResponse-evaluate).
    limits: list.filter((p) => p.name === "limit").map(parts),
  };
}

const OUTCOME_WORDS = {
  "criteria-met": ["Meets the policy criteria", "good"],
  "criteria-not-met": ["Does not meet the policy criteria", "bad"],
  incomplete: ["Not decided yet: more answers needed", "pending"],
};
// The server's words come with each criterion (`statusDisplay`); these stand in for a payer that
// sends none.
const STATUS_WORDS = { met: "met", "not-met": "not met", unknown: "not known yet" };

function showEvaluation(body) {
  const found = parameters(body);
  session.evaluation = found;
  const [words, tone] = OUTCOME_WORDS[found.outcome] || ["Its evaluation is not known yet", "pending"];
  const outcome = $("outcome");
  outcome.dataset.outcome = found.outcome;
  outcome.className = `outcome ${tone}`;
  const unmet = found.criteria.filter((c) => c.status === "not-met").map((c) => c.label);
  outcome.innerHTML = "";
  outcome.append(element("h2", words));
  if (unmet.length) outcome.append(element("p", `Not met: ${unmet.join("; ")}.`));

  showLimits(found);

  const list = $("criteria");
  list.innerHTML = "";
  for (const criterion of found.criteria) {
    const item = document.createElement("li");
    item.dataset.criterion = criterion.id;
    item.dataset.status = criterion.status;
    // A yes/no criterion that does not apply (its value is false), or one the policy is met
    // without (unknown while the outcome is already met), is neither a tick nor a gap.
    const negative = criterion.value === false;
    const unneeded = criterion.status === "unknown" && found.outcome === "criteria-met";
    item.className = negative || unneeded ? "neutral" : criterion.status;
    const mark = element("span", negative || unneeded ? "–" : { met: "✓", "not-met": "✗", unknown: "…" }[criterion.status], "mark");
    const shown = shownValue(criterion);
    const state = unneeded ? "not needed" : criterion.statusDisplay || STATUS_WORDS[criterion.status];
    item.append(mark, element("span", `${criterion.label}${shown ? `: ${shown}` : ""}`), element("span", state, "state"));
    // The record disagrees with itself here: the payer says what to check, as its card does.
    if (criterion.flag) {
      item.dataset.flag = "true";
      item.append(element("p", `Flag: ${criterion.flag}`, "flag"));
    }
    list.append(item);
  }
}

// What the policy covers for this patient, limit by limit, in the policy's own words; the first
// quantity limit known leads (`.limit`, with its value in data-limit).
function showLimits(found) {
  const box = $("dose");
  box.innerHTML = "";
  box.append(element("h2", "What the policy covers for this patient"));
  let lead = false;
  const bases = new Set();
  for (const limit of found.limits) {
    const text = limitText(limit);
    if (!text) continue;
    const line = element("p", text, lead || limit.kind !== "quantity" ? "muted" : "");
    line.dataset.limitId = limit.id;
    if (!lead && limit.kind === "quantity") {
      lead = true;
      line.className = "limit";
      line.dataset.limit = String(limit.value.value);
    }
    box.append(line);
    if (limit.kind === "quantity" && limit.basis && !bases.has(limit.basis)) {
      bases.add(limit.basis);
      box.append(element("p", limit.basis, "muted"));
    }
  }
  if (lead) return;
  // No quantity limit known yet: the policy's own reason when it gives one (a quantity limit
  // without a value whose basis says why).
  const reason = found.limits.find((l) => l.kind === "quantity" && !l.value && l.basis)?.basis;
  box.append(element("p", reason ? `Not known yet: ${reason}.` : "Answer the open questions to see the limit."));
}

function limitText(limit) {
  const label = limit.label.charAt(0).toUpperCase() + limit.label.slice(1);
  if (limit.kind === "quantity" && limit.value) return `${label}: up to ${limit.display || `${number(limit.value.value)} ${limit.unit}`}.`;
  if (limit.kind === "count" && limit.count !== undefined) return `${label}: up to ${limit.count}.`;
  if (limit.kind === "period" && limit.period) return `${label}: ${limit.period.start} to ${limit.period.end}.`;
  if (limit.kind === "period" && limit.length) {
    const years = limit.length.value;
    return `${label}: ${years} year${years > 1 ? "s" : ""} from its start.`;
  }
  return null;
}

function showEvaluationProblem(text) {
  const outcome = $("outcome");
  outcome.dataset.outcome = "error";
  outcome.className = "outcome pending";
  outcome.innerHTML = "";
  outcome.append(element("h2", "Check the highlighted answer"), element("p", text));
}

// A criterion's value in the payer's words (its `display`); a yes/no says its answer in the
// status instead.
function shownValue(criterion) {
  if (typeof criterion.value === "boolean") return "";
  return criterion.display || "";
}

function number(value) {
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

function element(tag, text, className) {
  const made = document.createElement(tag);
  made.textContent = text;
  if (className) made.className = className;
  return made;
}

// ---------------------------------------------------------------- what the record gave

// LHC-Forms renders each question as a `.lhc-de` row whose label is `for` the input's id,
// `<linkId>/<repeat path>`; the badge goes on that row so the prescriber sees where each answer came
// from.
function markOrigins(qr) {
  const origins = new Map();
  const walk = (items) => {
    for (const item of items || []) {
      for (const answer of item.answer || []) {
        const origin = (answer.extension || [])
          .find((e) => e.url === INFORMATION_ORIGIN)
          ?.extension?.find((e) => e.url === "source")?.valueCode;
        if (origin) origins.set(item.linkId, origin);
      }
      walk(item.item);
    }
  };
  walk(qr.item);
  for (const row of document.querySelectorAll("#form [data-link-id], #form .lhc-de")) {
    const linkId = rowLinkId(row);
    if (!linkId) continue;
    const origin = origins.get(linkId);
    row.classList.toggle("origin-auto", origin === "auto");
    row.classList.toggle("origin-override", origin === "override");
    row.dataset.origin = origin || "";
  }
}

function rowLinkId(row) {
  const target = row.querySelector("label[for]")?.getAttribute("for") || "";
  const linkId = target.split("/")[0];
  return session.questionnaireLinkIds?.has(linkId) ? linkId : null;
}

// The questions still to answer in `qr` (the response as the form holds it now).
function showTodo(qr) {
  const missing = missingRequired(session.questionnaire, answerValues(qr), visibleLinkIds());
  const todo = $("todo");
  todo.innerHTML = "";
  todo.dataset.missing = String(missing.length);
  if (!missing.length) {
    todo.className = "todo complete";
    todo.append(element("p", "Every required question is answered. Check the values from the record, then submit."));
    return;
  }
  todo.className = "todo";
  todo.append(element("h2", `${missing.length} question${missing.length > 1 ? "s need" : " needs"} your answer`));
  const list = document.createElement("ul");
  for (const item of missing) {
    const entry = document.createElement("li");
    const link = element("a", item.text);
    link.href = "#";
    link.dataset.linkId = item.linkId;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      focusQuestion(item.linkId);
    });
    entry.append(link);
    list.append(entry);
  }
  todo.append(list);
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    row.classList.toggle("needs-answer", missing.some((m) => m.linkId === rowLinkId(row)));
  }
}

function linkIds(items, found = new Set()) {
  for (const item of items || []) {
    found.add(item.linkId);
    linkIds(item.item, found);
  }
  return found;
}

function visibleLinkIds() {
  const found = new Set();
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    const linkId = rowLinkId(row);
    if (linkId && row.offsetParent !== null) found.add(linkId);
  }
  return found;
}

function focusQuestion(linkId) {
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    if (rowLinkId(row) === linkId) {
      row.scrollIntoView({ block: "center" });
      row.querySelector("input, textarea, select")?.focus();
      return;
    }
  }
}

// ---------------------------------------------------------------- save and submit

async function guarded(action) {
  for (const button of [$("save"), $("submit")]) button.disabled = true;
  solved();
  try {
    await action();
  } catch (error) {
    problem(error.message || String(error));
  } finally {
    for (const button of [$("save"), $("submit")]) button.disabled = false;
  }
}

async function saveToEhr(qr) {
  const client = session.client;
  if (session.draft?.id) {
    return client.update({ ...qr, id: session.draft.id });
  }
  return client.create(qr);
}

async function saveDraft() {
  session.draft = await saveToEhr(currentResponse("in-progress"));
  $("save-status").textContent = `Draft saved in the patient's record at ${when(session.draft.meta?.lastUpdated)}.`;
  $("save-status").dataset.saved = session.draft.id;
}

async function submit() {
  const qr = currentResponse("completed");
  showTodo(qr);
  const missing = Number($("todo").dataset.missing || "0");
  if (missing) {
    $("todo").scrollIntoView({ block: "start" });
    problem(`${missing} question${missing > 1 ? "s are" : " is"} not answered yet: answer those listed at the top, then press Submit to payer again.`);
    return;
  }
  const sent = await payer("/fhir/QuestionnaireResponse", qr);
  if (sent.status !== 201 && sent.status !== 200) {
    problem(`The payer did not accept the form: ${refusal(sent)}`);
    return;
  }
  const saved = await saveToEhr(qr);
  session.draft = saved;
  const evaluated = await payer("/fhir/QuestionnaireResponse/$evaluate", qr);
  if (evaluated.status !== 200) {
    problem(`The payer has the form, but could not say how it meets the policy: ${refusal(evaluated)}`);
  }
  showDone(parameters(evaluated.body), saved, sent.body);
}

// What the payer said, in words, and what to do next.
function refusal(answer) {
  const said = (outcomeText(answer.body) || `it answered with status ${answer.status}`).replace(/[.\s]+$/, "");
  if (answer.status >= 500 || answer.status === 429) {
    return `${said}. The payer is busy or unavailable: wait a minute and press Submit to payer again; your answers stay in this form.`;
  }
  if (answer.status === 401 || answer.status === 403) {
    return `${said}. Press Save draft to keep your answers, then open the form again from the order.`;
  }
  return `${said}. Correct what it names and press Submit to payer again; if there is nothing to correct, press Save draft and call the payer's prior-authorization line.`;
}

const NEXT_STEPS = {
  "criteria-met":
    "The answers meet the policy's criteria. The payer's prior-authorization review now has them; nothing needs faxing. Keep the order as signed; the payer's decision appears below when it is made.",
  "criteria-not-met":
    "The answers do not meet the policy's criteria. The request still goes to the payer's clinical review, where it may be denied: a letter of medical necessity or a peer-to-peer review can support it.",
  incomplete:
    "Some criteria could not be decided from the answers. The payer's clinical reviewer may ask for more information.",
};

function showDone(found, ehrCopy, payerCopy) {
  const [words, tone] = OUTCOME_WORDS[found.outcome] || ["Its evaluation is not known yet", "pending"];
  $("workspace").hidden = true;
  const done = $("done");
  done.hidden = false;
  done.innerHTML = "";
  const heading = element("h2", `Submitted. ${words}.`);
  done.dataset.outcome = found.outcome;
  done.className = `done ${tone}`;
  done.append(heading, element("p", NEXT_STEPS[found.outcome] || ""));
  const unmet = found.criteria.filter((c) => c.status === "not-met");
  if (unmet.length) {
    const list = document.createElement("ul");
    for (const c of unmet) list.append(element("li", `${c.label}: not met`));
    done.append(list);
  }
  const lead = found.limits.find((l) => l.kind === "quantity" && l.value);
  if (lead) done.append(element("p", `Covered ${lead.label} for this patient: up to ${number(lead.value.value)} ${lead.unit}.`));
  const refs = element("p", `Saved in the patient's record as QuestionnaireResponse/${ehrCopy.id}; payer reference ${payerCopy.id}.`, "muted");
  refs.id = "references";
  refs.dataset.ehr = ehrCopy.id;
  refs.dataset.payer = payerCopy.id;
  done.append(refs);
  const request = element("section", "");
  request.id = "pa";
  request.className = "pa";
  request.dataset.status = "sending";
  request.append(element("h3", "Prior-authorization request"), element("p", "The EHR is sending the request to the payer…"));
  done.append(request);
  document.body.dataset.state = "submitted";
  followRequest(ehrCopy.id);
}

// ---------------------------------------------------------------- the prior-authorization request

const REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction";
const REVIEW_ACTION_CODE = `${REVIEW_ACTION}Code`;
const X12_306 = "https://codesystem.x12.org/005010/306";
const REQUEST_STATES = { A1: "approved", A3: "denied", A4: "pended", C: "cancelled" };
const FOLLOW_EVERY_MS = 2000;

// The EHR submits the completed form to the payer (Da Vinci PAS) and keeps the Claim and the
// payer's ClaimResponse in the record; the app reads them from there, and again until the payer
// has decided: the EHR replaces the ClaimResponse when the payer's notification arrives.
async function followRequest(responseId) {
  const client = session.client;
  let final = false;
  while (!final) {
    try {
      const claims = await client.request(`Claim?patient=Patient/${session.patient.id}`, { flat: true });
      const claim = (claims || []).find((c) =>
        (c.supportingInfo || []).some((i) => i.valueReference?.reference === `QuestionnaireResponse/${responseId}`),
      );
      if (claim) {
        const answers = await client.request(`ClaimResponse?request=Claim/${claim.id}`, { flat: true });
        const current = (answers || []).sort((a, b) => String(b.meta?.lastUpdated).localeCompare(String(a.meta?.lastUpdated)))[0];
        if (current) final = showRequest(current);
      }
    } catch (error) {
      console.warn("prior-authorization status not read:", error);
    }
    if (!final) await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
  }
}

function reviewCode(claimResponse) {
  for (const item of claimResponse.item || []) {
    for (const adjudication of item.adjudication || []) {
      const action = (adjudication.extension || []).find((e) => e.url === REVIEW_ACTION);
      const code = (action?.extension || []).find((e) => e.url === REVIEW_ACTION_CODE);
      const coding = (code?.valueCodeableConcept?.coding || []).find((c) => c.system === X12_306);
      if (coding) return { code: coding.code, reason: adjudication.reason?.text };
    }
  }
  return { code: null };
}

// Shows the request's state; true once it is final (approved, denied, cancelled).
function showRequest(claimResponse) {
  const { code, reason } = reviewCode(claimResponse);
  const state = REQUEST_STATES[code] || "pended";
  const box = $("pa");
  box.dataset.status = state;
  box.innerHTML = "";
  box.append(element("h3", "Prior-authorization request"));
  const notes = (claimResponse.processNote || []).map((n) => n.text).filter(Boolean);
  if (state === "approved") {
    const period = claimResponse.preAuthPeriod;
    const ref = element("strong", claimResponse.preAuthRef || "");
    ref.id = "pa-ref";
    const line = element("p", "Approved: authorization ");
    line.append(ref, document.createTextNode(period ? `, valid ${period.start} to ${period.end}.` : "."));
    box.append(line);
  } else if (state === "denied") {
    const line = element("p", `Denied: ${reason || claimResponse.disposition || "see the payer's note"}.`);
    line.id = "pa-reason";
    box.append(line);
  } else if (state === "cancelled") {
    box.append(element("p", "Cancelled."));
  } else {
    box.append(element("p", "Pended for the payer's clinical review. This page updates when the payer decides."));
  }
  for (const note of notes) box.append(element("p", note, "muted"));
  return state !== "pended";
}

function when(instant) {
  if (!instant) return "";
  return new Date(instant).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

function solved() {
  const box = $("problem");
  box.hidden = true;
  box.textContent = "";
}

function problem(text) {
  const box = $("problem");
  box.hidden = false;
  box.textContent = text;
  document.body.dataset.state = document.body.dataset.state === "loading" ? "failed" : document.body.dataset.state;
}
