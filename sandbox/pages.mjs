// @ts-check
// The clinician's HTML pages: the example patients, an order signed (the payer's cards and
// coverage information), errors.

import { signs } from './crd.mjs';
import { examples, fhirCall } from './fhir-store.mjs';
import { FHIR_BASE, PAYER } from './settings.mjs';

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * @param {unknown} value
 */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;text-align:left;vertical-align:top}
form{display:inline;margin:0}button,.button{font:inherit;padding:.25rem .7rem;border:1px solid #345;border-radius:4px;background:#f3f6fa;color:#123;text-decoration:none;cursor:pointer}
.card{border:1px solid #ccc;border-left-width:6px;border-radius:4px;padding:.6rem 1rem;margin:.8rem 0}
.card.info{border-left-color:#2b6cb0}.card.warning{border-left-color:#c58a00}.card.critical{border-left-color:#c53030}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6rem;border-radius:4px}
.muted{color:#666}.error{color:#a00}td.actions{white-space:nowrap}td.actions a{display:inline-block;margin-top:.3rem}
`;

/**
 * @param {string} title
 * @param {string} body
 */
export function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><p class="muted"><a href="/">Sandbox EHR</a> &middot; not a real EHR: demo and test data only</p>
${body}
</body></html>`;
}

export async function homePage() {
  const rows = [];
  for (const example of examples.values()) {
    const drafts = await fhirCall(
      'GET',
      `/QuestionnaireResponse?subject=Patient/${example.patientId}&status=in-progress`,
    );
    const draftLinks = (/** @type {import('./types.js').Json[]} */ (drafts.body.entry ?? []))
      .map((e) => e.resource)
      .map((qr) => `<a href="/launch/${esc(example.nn)}?resume=${encodeURIComponent(qr.id)}">Resume draft ${esc(qr.meta?.lastUpdated ?? qr.id)}</a>`)
      .join('<br>');
    const signed = signs.get(example.nn);
    rows.push(`<tr data-example="${esc(example.nn)}">
<td>${esc(example.folder)}</td>
<td>${esc(example.patientName)}<br><span class="muted">${esc(example.birthDate)} &middot; Patient/${esc(example.patientId)}</span></td>
<td>${signed ? `signed ${esc(signed.at)}${signed.assertionId ? `<br><span class="muted">assertion ${esc(signed.assertionId)}</span>` : ''}` : '<span class="muted">not signed</span>'}</td>
<td class="actions"><form method="post" action="/sign/${esc(example.nn)}"><button type="submit">Sign the order</button></form>
 <a class="button" href="/launch/${esc(example.nn)}">Launch the form</a>${draftLinks ? `<br>${draftLinks}` : ''}</td>
</tr>`);
  }
  const standalone = `${PAYER}/dtr/launch.html?iss=${encodeURIComponent(FHIR_BASE)}`;
  return page(
    'Sandbox EHR',
    `<h1>Sandbox EHR</h1>
<p>FHIR server <code>${esc(FHIR_BASE)}</code> &middot; payer <code>${esc(PAYER)}</code> &middot;
<a href="${esc(standalone)}">Standalone launch of the form</a> (pick the patient at the EHR)</p>
<table><thead><tr><th>Example</th><th>Patient</th><th>Order</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`,
  );
}

/**
 * @param {import('./types.js').Json} card
 */
function renderCard(card) {
  const indicator = ['info', 'warning', 'critical'].includes(card.indicator) ? card.indicator : 'info';
  const links = (card.links ?? [])
    .filter((/** @type {import('./types.js').Json} */ l) => /^https?:\/\//i.test(l.url ?? ''))
    .map((/** @type {import('./types.js').Json} */ l) => `<li><a href="${esc(l.url)}" target="_blank" rel="noopener">${esc(l.label || l.url)}</a> <span class="muted">(${esc(l.type)})</span></li>`)
    .join('');
  const suggestions = (card.suggestions ?? []).map((/** @type {import('./types.js').Json} */ s) => `<li>${esc(s.label)}</li>`).join('');
  return `<div class="card ${indicator}">
<strong>${esc(card.summary)}</strong> <span class="muted">[${esc(card.indicator)}${card.source?.label ? ` &middot; ${esc(card.source.label)}` : ''}]</span>
${card.detail ? `<pre>${esc(card.detail)}</pre>` : ''}
${links ? `<p>Links:</p><ul>${links}</ul>` : ''}
${suggestions ? `<p>Suggestions:</p><ul>${suggestions}</ul>` : ''}
</div>`;
}

/**
 * @param {import('./types.js').Example} example
 * @param {import('./types.js').Signed} result
 */
export function signedPage(example, result) {
  const info = result.coverageInformation
    .map(
      (c) => `<tr><td>${esc(c.reference)}</td><td>${esc(c.covered)}</td><td>${esc(c.paNeeded)}</td>
<td>${esc(c.docNeeded.join(', '))}</td><td>${esc(c.infoNeeded.join(', '))}</td>
<td><code>${esc(c.assertionId)}</code></td><td>${c.questionnaires.map((q) => `<code>${esc(q)}</code>`).join('<br>')}</td></tr>`,
    )
    .join('');
  return page(
    `Order signed: ${example.folder}`,
    `<h1>Order signed for ${esc(example.patientName)} (${esc(example.folder)})</h1>
<p>The payer answered the order-sign hook with HTTP ${esc(result.status)} at ${esc(result.at)}.</p>
<h2>Cards</h2>
${result.cards.length ? result.cards.map(renderCard).join('\n') : '<p class="muted">No cards.</p>'}
<h2>Coverage information</h2>
${
  info
    ? `<table id="coverage-information"><thead><tr><th>Order</th><th>Covered</th><th>PA needed</th><th>Documentation</th><th>Information needed</th><th>Assertion id</th><th>Questionnaires</th></tr></thead><tbody>${info}</tbody></table>`
    : '<p class="muted">The payer returned no coverage information.</p>'
}
<p><a class="button" id="launch" href="/launch/${esc(example.nn)}">Launch the form</a></p>`,
  );
}

/**
 * @param {string} title
 * @param {string} message
 * @param {string} [detail]
 */
export function errorPage(title, message, detail = '') {
  return page(title, `<h1 class="error">${esc(title)}</h1><p>${esc(message)}</p>${detail ? `<pre>${esc(detail)}</pre>` : ''}`);
}
