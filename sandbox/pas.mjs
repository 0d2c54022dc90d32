// @ts-check
// The sandbox EHR as the provider in Da Vinci PAS: when a prior-authorization form is completed
// (a QuestionnaireResponse saved with status completed, about an order), it builds the PAS request
// Bundle (the Claim, the order as the item's requestedService, the form as additionalInformation,
// the Patient, the Coverage, the insurer, the requesting clinic, the order's prescriber), submits
// it to the payer's Claim/$submit with a SMART Backend Services token, and keeps the Claim and the
// payer's ClaimResponse in its own record, where the prescriber's app reads them.
//
// It subscribes once to the payer's decisions (rest-hook to /pas/notify, id-only as PAS 2.0.1
// does); a notification is answered by Claim/$inquire, and the ClaimResponse kept is replaced by
// the current one. The notify endpoint takes only the payer's notifications: they carry the
// random secret this EHR put in its Subscription's channel header.

import crypto from 'node:crypto';

import { SignJWT } from 'jose';

const PAS = 'http://hl7.org/fhir/us/davinci-pas';
const QR_CONTEXT = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC = `${PAS}/SubscriptionTopic/PASSubscriptionTopic`;
const HCPCS = 'https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets';
// The clinic this EHR submits for: its NPI is what its Subscription filters on.
const CLINIC = {
  resourceType: 'Organization',
  id: 'sandbox-clinic',
  active: true,
  name: 'Sandbox Oncology Clinic',
  identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
};
// The EHR's charge master: which HCPCS code bills an ordered drug (RxNorm or NDC). An order it
// cannot map goes with productOrService "not-applicable" and the order itself as requestedService.
/** @type {Map<string, string>} */
const CHARGE_MASTER = new Map(/** @type {[string, string][]} */ ([
  ...['1597258', '1597263', '1597262', '1597267', '1597260', '1597266'].map((c) => [`http://www.nlm.nih.gov/research/umls/rxnorm|${c}`, 'J9039']),
  ...['55513016001', '55513016021'].map((c) => [`http://hl7.org/fhir/sid/ndc|${c}`, 'J9039']),
]));
const SCOPE = 'system/Claim.cr system/ClaimResponse.r system/Subscription.crd';

/**
 * @param {object} options
 * @param {string} options.base this EHR's base URL
 * @param {string} options.payer the payer's base URL
 * @param {string} options.clientId this EHR's client id at the payer
 * @param {{ kid: string, privateKey: import('jose').CryptoKey }} options.key the key its client assertions are signed with
 * @param {(method: string, relative: string, body?: any) => Promise<import('./types.js').FhirResult>} options.fhirCall
 * @param {(line: string) => void} [options.log]
 */
export function createPriorAuthorization({ base, payer, clientId, key, fhirCall, log = console.log }) {
  const notifySecret = crypto.randomBytes(24).toString('base64url');
  /** @type {Map<string, import('./types.js').Json>} ClaimResponse id -> the request Bundle sent */
  const submitted = new Map();
  /** @type {string | null} */
  let token = null;
  let tokenExpires = 0;
  /** @type {string | null} */
  let subscribed = null;

  async function payerToken() {
    if (token && Date.now() < tokenExpires) return token;
    const config = await (await fetch(`${payer}/fhir/.well-known/smart-configuration`)).json();
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: key.kid })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(config.token_endpoint)
      .setIssuedAt()
      .setExpirationTime('4m')
      .sign(key.privateKey);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const answer = await fetch(config.token_endpoint, { method: 'POST', body: form });
    const body = await answer.json();
    if (!answer.ok) throw new Error(`the payer refused a token: ${body.error_description ?? answer.status}`);
    token = body.access_token;
    tokenExpires = Date.now() + (body.expires_in - 30) * 1000;
    return token;
  }

  /**
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<{ status: number, body: any }>}
   */
  async function payerCall(path, body, method = 'POST') {
    const answer = await fetch(`${payer}${path}`, {
      method,
      headers: { Authorization: `Bearer ${await payerToken()}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    return { status: answer.status, body: text ? JSON.parse(text) : null };
  }

  async function ensureSubscribed() {
    if (subscribed) return subscribed;
    const subscription = {
      resourceType: 'Subscription',
      status: 'requested',
      reason: "Decisions on the clinic's prior-authorization requests",
      criteria: TOPIC,
      _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: `org-identifier=${CLINIC.identifier[0].value}` }] },
      channel: {
        type: 'rest-hook',
        endpoint: `${base}/pas/notify`,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: 'id-only' }] },
        header: [`Authorization: Bearer ${notifySecret}`],
      },
    };
    const answer = await payerCall('/fhir/Subscription', subscription);
    // `requested` until the payer's handshake reaches us (Subscriptions Backport 1.1.0).
    if (answer.status !== 201 || !['requested', 'active'].includes(answer.body?.status)) {
      throw new Error(`the payer did not take the Subscription (HTTP ${answer.status})`);
    }
    subscribed = answer.body.id;
    log(`subscribed to the payer's decisions: Subscription/${subscribed}`);
    return subscribed;
  }

  /** @param {string} reference */
  async function read(reference) {
    const result = await fhirCall('GET', `/${reference}`);
    return result.status === 200 ? result.body : null;
  }

  /** @param {import('./types.js').Json} order */
  function productOrService(order) {
    const concept = order.medicationCodeableConcept ?? order.code ?? {};
    for (const coding of concept.coding ?? []) {
      if (coding.system === HCPCS) return { coding: [{ system: HCPCS, code: coding.code }] };
      const code = CHARGE_MASTER.get(`${coding.system}|${coding.code}`);
      if (code) return { coding: [{ system: HCPCS, code }] };
    }
    return { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'not-applicable' }] };
  }

  // The PAS request for a completed form, or null when the form names no order or Coverage.
  /**
   * @param {import('./types.js').Json} qr
   * @returns {Promise<import('./types.js').Json | null>}
   */
  async function requestFor(qr) {
    /** @type {(string | undefined)[]} */
    const contexts = (qr.extension ?? []).filter((/** @type {import('./types.js').Json} */ e) => e.url === QR_CONTEXT).map((/** @type {import('./types.js').Json} */ e) => e.valueReference?.reference);
    const orderRef = contexts.find((r) => r && !r.startsWith('Coverage/'));
    const coverageRef = contexts.find((r) => r?.startsWith('Coverage/')) ?? null;
    const order = orderRef ? await read(orderRef) : null;
    const coverage = coverageRef ? await read(coverageRef) : order?.insurance?.[0] ? await read(order.insurance[0].reference) : null;
    const patient = qr.subject?.reference ? await read(qr.subject.reference) : null;
    if (!order || !coverage || !patient) return null;
    const insurerRef = coverage.payor?.[0]?.reference;
    const insurer = (insurerRef && (await read(insurerRef))) || { resourceType: 'Organization', id: 'payer', active: true, name: 'Payer' };
    const claimId = `pa-${qr.id}`;
    // The same form sent again (the prescriber answered the payer's ask): an update of the same
    // request (PAS: its identifier, the changed supporting information marked infoChanged).
    const update = (await read(`Claim/${claimId}`)) !== null;
    const claim = {
      resourceType: 'Claim',
      id: claimId,
      meta: { profile: [`${PAS}/StructureDefinition/profile-claim`] },
      identifier: [{ system: `${base}/claims`, value: claimId }],
      status: 'active',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code: order.resourceType === 'MedicationRequest' ? 'pharmacy' : 'professional' }] },
      use: 'preauthorization',
      patient: { reference: `Patient/${patient.id}` },
      created: new Date().toISOString(),
      insurer: { reference: `Organization/${insurer.id}` },
      provider: { reference: `Organization/${CLINIC.id}` },
      priority: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' }] },
      insurance: [{ sequence: 1, focal: true, coverage: { reference: `Coverage/${coverage.id}` } }],
      supportingInfo: [
        {
          sequence: 1,
          category: { coding: [{ system: `${PAS}/CodeSystem/PASTempCodes`, code: 'additionalInformation' }] },
          valueReference: { reference: `QuestionnaireResponse/${qr.id}` },
          ...(update ? { extension: [{ url: `${PAS}/StructureDefinition/extension-infoChanged`, valueCode: 'changed' }] } : {}),
        },
      ],
      item: [
        {
          extension: [{ url: `${PAS}/StructureDefinition/extension-requestedService`, valueReference: { reference: `${order.resourceType}/${order.id}` } }],
          sequence: 1,
          informationSequence: [1],
          category: { coding: [{ system: 'https://codesystem.x12.org/005010/1365', code: '1', display: 'Medical Care' }] },
          productOrService: productOrService(order),
        },
      ],
    };
    // The prescriber who signed the order, so the payer's reviewer sees who asks.
    const requester = order.requester?.reference ? await read(order.requester.reference) : null;
    const resources = [claim, patient, coverage, insurer, CLINIC, order, ...(requester ? [requester] : []), qr];
    return {
      resourceType: 'Bundle',
      meta: { profile: [`${PAS}/StructureDefinition/profile-pas-request-bundle`] },
      identifier: { system: `${base}/pas-requests`, value: claimId },
      type: 'collection',
      timestamp: new Date().toISOString(),
      entry: resources.map((r) => ({ fullUrl: `${base}/fhir/${r.resourceType}/${r.id}`, resource: r })),
    };
  }

  // The payer's ClaimResponse kept in this EHR's record, its `request` the Claim kept here.
  /**
   * @param {import('./types.js').Json} claimResponse
   * @param {string} claimId
   */
  async function keep(claimResponse, claimId) {
    await fhirCall('PUT', `/ClaimResponse/${claimResponse.id}`, { ...claimResponse, request: { reference: `Claim/${claimId}` } });
  }

  // A form just completed in this EHR: submitted for prior authorization. Failures are logged
  // and leave the form saved; the prescriber's app shows no request then.
  /** @param {import('./types.js').Json} qr */
  async function formCompleted(qr) {
    try {
      const bundle = await requestFor(qr);
      if (!bundle) return;
      await ensureSubscribed();
      const answer = await payerCall('/fhir/Claim/$submit', bundle);
      if (answer.status !== 200) {
        log(`prior authorization not submitted: HTTP ${answer.status}`);
        return;
      }
      const claimResponse = answer.body.entry[0].resource;
      submitted.set(claimResponse.id, bundle);
      const claim = bundle.entry[0].resource;
      await fhirCall('PUT', `/Claim/${claim.id}`, claim);
      await keep(claimResponse, claim.id);
      log(`prior authorization submitted: ClaimResponse/${claimResponse.id} ${claimResponse.outcome}`);
    } catch (error) {
      log(`prior authorization not submitted: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // POST /pas/notify: the payer's rest-hook. true when it was ours and taken.
  /**
   * @param {string | undefined} authorization
   * @param {import('./types.js').Json} bundle
   */
  async function notified(authorization, bundle) {
    const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
    const expected = Buffer.from(notifySecret);
    if (given.length !== notifySecret.length || !crypto.timingSafeEqual(Buffer.from(given), expected)) return false;
    const status = bundle?.entry?.[0]?.resource;
    const type = status?.parameter?.find((/** @type {import('./types.js').Json} */ p) => p.name === 'type')?.valueCode;
    if (type !== 'event-notification') return true;
    const event = status.parameter.find((/** @type {import('./types.js').Json} */ p) => p.name === 'notification-event');
    const focus = event?.part?.find((/** @type {import('./types.js').Json} */ p) => p.name === 'focus')?.valueReference?.reference ?? '';
    const id = focus.split('/').pop() ?? '';
    const original = submitted.get(id);
    if (!original) return true;
    // id-only: the current state comes from $inquire, as PAS 2.0.1 has it.
    const inquiry = structuredClone(original);
    inquiry.entry = inquiry.entry.filter((/** @type {import('./types.js').Json} */ e) => e.resource.resourceType !== 'QuestionnaireResponse');
    inquiry.entry[0].resource.meta = { profile: [`${PAS}/StructureDefinition/profile-claim-inquiry`] };
    delete inquiry.entry[0].resource.supportingInfo;
    const answer = await payerCall('/fhir/Claim/$inquire', inquiry);
    if (answer.status === 200) {
      const current = answer.body.entry[0].resource;
      await keep(current, original.entry[0].resource.id);
      log(`prior authorization decided: ClaimResponse/${current.id} ${current.disposition ?? current.outcome}`);
    }
    return true;
  }

  return { formCompleted, notified };
}
