// @ts-check
// A patient's age in the words a chart uses, counted to the day the payer evaluates the policy on
// (its $evaluate `evaluationDate`), never to the browser's calendar.

// "7 years", "11 months", "3 weeks"; "" when either date is missing or the birth is after `on`.
/**
 * @param {string | undefined | null} birthDate
 * @param {string | undefined | null} on
 */
export function ageText(birthDate, on) {
  if (!birthDate || !on || birthDate.length < 10) return "";
  const [by, bm, bd] = birthDate.slice(0, 10).split("-").map(Number);
  const [y, m, d] = on.slice(0, 10).split("-").map(Number);
  const months = (y - by) * 12 + (m - bm) - (d < bd ? 1 : 0);
  if (months < 0) return "";
  if (months >= 24) return `${Math.floor(months / 12)} years`;
  if (months >= 1) return `${months} month${months > 1 ? "s" : ""}`;
  const days = Math.round((Date.UTC(y, m - 1, d) - Date.UTC(by, bm - 1, bd)) / 86400000);
  const weeks = Math.floor(days / 7);
  return weeks >= 1 ? `${weeks} week${weeks > 1 ? "s" : ""}` : `${days} day${days === 1 ? "" : "s"}`;
}
