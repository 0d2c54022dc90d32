// @ts-check
// CDS Hooks order-sign to the payer: the signed order's prefetch, a signed JWT, the payer's cards
// and coverage information kept per example (and applied to the order, as an EHR does).

import crypto from 'node:crypto';
import { isOk } from '@medplum/core';

import { fhirCall, repo } from './fhir-store.mjs';
import { randomId, tokens } from './grants.mjs';
import { signHookJwt } from './keys.mjs';
import { CRD_SERVICE_ID, EXT_COVERAGE_INFO, FHIR_BASE, PAYER, PAYER_TIMEOUT_MS, TOKEN_TTL_S } from './settings.mjs';

/** @type {Map<string, import('./types.js').Signed>} nn -> what the payer answered when its order was signed */
export const signs = new Map();

export class PayerError extends Error {
  /**
   * @param {string} message
   * @param {number | null} [status]
   * @param {string} [excerpt]
   */
  constructor(message, status = null, excerpt = '') {
    super(message);
    this.status = status;
    this.excerpt = excerpt;
  }
}

/**
 * @param {string} url
 * @param {RequestInit} init
 * @returns {Promise<{ status: number, json: any }>}
 */
async function payerFetch(url, init) {
  let response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(PAYER_TIMEOUT_MS) });
  } catch (caught) {
    const error = /** @type {{ message?: string, cause?: { message?: string } }} */ (caught);
    throw new PayerError(`The payer at ${PAYER} could not be reached: ${error.cause?.message ?? error.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new PayerError(`The payer answered ${url} with HTTP ${response.status}.`, response.status, text.slice(0, 600));
  }
  try {
    return { status: response.status, json: JSON.parse(text) };
  } catch {
    throw new PayerError(`The payer's answer from ${url} is not JSON.`, response.status, text.slice(0, 600));
  }
}

/**
 * @param {string} template
 * @param {import('./types.js').Example} example
 * @returns {string | null}
 */
function fillTemplate(template, example) {
  if (template.includes('{{context.encounterId}}')) return null;
  const query = template
    .replaceAll('{{context.patientId}}', example.patientId)
    .replaceAll('{{context.userId}}', `Practitioner/${example.prescriberId}`)
    .replaceAll('{{userPractitionerId}}', example.prescriberId)
    .replaceAll('{{userPractitionerRoleId}}', '');
  return /\{\{/.test(query) ? null : query;
}

/**
 * @param {import('./types.js').Json} extension
 */
function valueOf(extension) {
  const key = Object.keys(extension).find((k) => k.startsWith('value'));
  return key ? extension[key] : undefined;
}

/**
 * @param {import('./types.js').Json} resource
 * @returns {(import('./types.js').CoverageInformation & { extension: import('./types.js').Json })[]}
 */
function coverageInformationOf(resource) {
  return (resource?.extension ?? [])
    .filter((/** @type {import('./types.js').Json} */ ext) => ext.url === EXT_COVERAGE_INFO)
    .map((/** @type {import('./types.js').Json} */ ext) => {
      /** @type {import('./types.js').Json[]} */
      const parts = ext.extension ?? [];
      const all = (/** @type {string} */ url) => parts.filter((p) => p.url === url).map(valueOf).filter((v) => v !== undefined);
      const one = (/** @type {string} */ url) => all(url)[0] ?? null;
      return {
        assertionId: one('coverage-assertion-id'),
        questionnaires: all('questionnaire'),
        covered: one('covered'),
        paNeeded: one('pa-needed'),
        docNeeded: all('doc-needed'),
        infoNeeded: all('info-needed'),
        coverage: one('coverage')?.reference ?? null,
        date: one('date'),
        reference: `${resource.resourceType}/${resource.id}`,
        extension: ext,
      };
    });
}

/**
 * @param {import('./types.js').Example} example
 * @returns {Promise<import('./types.js').Signed>}
 */
export async function signOrder(example) {
  if (!example.orderId) throw new PayerError(`Example ${example.folder} has no order to sign.`);
  const discovery = await payerFetch(`${PAYER}/cds-services`, { headers: { Accept: 'application/json' } });
  const service = (discovery.json.services ?? []).find((/** @type {import('./types.js').Json} */ s) => s.id === CRD_SERVICE_ID);
  if (!service) throw new PayerError(`The payer's discovery lists no "${CRD_SERVICE_ID}" service.`, discovery.status);

  /** @type {Record<string, unknown>} */
  const prefetch = {};
  for (const [key, template] of Object.entries(service.prefetch ?? {})) {
    const query = typeof template === 'string' ? fillTemplate(template, example) : null;
    if (!query) continue;
    const result = await fhirCall('GET', `/${query.replace(/^\/+/, '')}`);
    prefetch[key] = isOk(result.outcome) ? result.body : null;
  }
  // A new signature is a new evaluation: the order goes without the coverage information of an
  // earlier one (the payer's update brings the current one back).
  /** @type {any} a MedicationRequest, ServiceRequest, ...: each has extension */
  const order = await repo.readResource(/** @type {string} */ (example.orderType), example.orderId);
  order.extension = (order.extension ?? []).filter((/** @type {import('./types.js').Json} */ ext) => ext.url !== EXT_COVERAGE_INFO);
  if (!order.extension.length) delete order.extension;
  // The payer asks in prefetch only for what every order-sign needs; for an order in scope it
  // reads the clinical data itself, with this token (CDS Hooks fhirAuthorization), read-only and
  // for this example patient.
  const payerToken = randomId();
  const payerScope = 'patient/*.read';
  tokens.set(payerToken, { nn: example.nn, scope: payerScope, clientId: 'payer-crd', expires: Date.now() + TOKEN_TTL_S * 1000 });
  const request = {
    hookInstance: crypto.randomUUID(),
    hook: 'order-sign',
    fhirServer: FHIR_BASE,
    fhirAuthorization: {
      access_token: payerToken,
      token_type: 'Bearer',
      expires_in: TOKEN_TTL_S,
      scope: payerScope,
      subject: 'payer-crd',
      patient: example.patientId,
    },
    context: {
      userId: `Practitioner/${example.prescriberId}`,
      patientId: example.patientId,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: order }] },
    },
    prefetch,
  };
  const serviceUrl = `${PAYER}/cds-services/${CRD_SERVICE_ID}`;
  const answer = await payerFetch(serviceUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Authorization: `Bearer ${await signHookJwt(serviceUrl)}`,
    },
    body: JSON.stringify(request),
  });

  const cards = Array.isArray(answer.json.cards) ? answer.json.cards : [];
  const systemActions = Array.isArray(answer.json.systemActions) ? answer.json.systemActions : [];
  const coverageInformation = [];
  for (const action of systemActions) {
    const resource = action?.resource;
    if (!resource?.resourceType) continue;
    coverageInformation.push(...coverageInformationOf(resource));
    // Apply updates to this example's own resources (the order, with its coverage information).
    if (action.type === 'update' && typeof resource.id === 'string' && resource.id.startsWith(`${example.nn}-`)) {
      const current = await repo.readResource(resource.resourceType, resource.id).catch(() => null);
      if (current) {
        const { versionId, lastUpdated, ...meta } = resource.meta ?? {};
        await repo.updateResource({ ...resource, meta });
      }
    }
  }
  const withAssertion = coverageInformation.filter((c) => c.assertionId);
  const chosen = withAssertion.find((c) => c.questionnaires.length) ?? withAssertion[0] ?? null;
  const questionnaires = [...new Set(coverageInformation.flatMap((c) => c.questionnaires))];
  const result = {
    at: new Date().toISOString(),
    status: answer.status,
    cards,
    systemActions,
    coverageInformation: coverageInformation.map(({ extension, ...rest }) => rest),
    assertionId: chosen?.assertionId ?? null,
    questionnaires,
  };
  signs.set(example.nn, result);
  return result;
}
