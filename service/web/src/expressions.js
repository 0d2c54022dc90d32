// @ts-check
// The Questionnaire's expressions in the language the renderer speaks. DTR writes every expression
// in CQL; LHC-Forms evaluates FHIRPath only. Each CQL expression the form computes live (its
// `variable`s and calculatedExpressions) carries its equivalent FHIRPath form in the extensions
// pack's cqf-alternativeExpression; the renderer gets that form (docs/decisions/0012). Pure: no
// DOM.

export const ALTERNATIVE_EXPRESSION = "http://hl7.org/fhir/StructureDefinition/cqf-alternativeExpression";
const FHIRPATH = "text/fhirpath";

// A copy of `questionnaire` whose non-FHIRPath expressions with a FHIRPath alternative are that
// alternative (the expression's name kept: a variable is known by it). Expressions without one
// (the CQL initialExpressions, which the app evaluates itself) are left as they are.
/**
 * @param {Record<string, any>} questionnaire
 * @returns {Record<string, any>}
 */
export function withFhirPathExpressions(questionnaire) {
  const copy = structuredClone(questionnaire);
  const swap = (/** @type {Record<string, any>[] | undefined} */ extensions) => {
    for (const extension of extensions || []) {
      const expression = extension.valueExpression;
      if (!expression || expression.language === FHIRPATH) continue;
      const alternative = (expression.extension || []).find(
        (/** @type {Record<string, any>} */ e) => e.url === ALTERNATIVE_EXPRESSION && e.valueExpression?.language === FHIRPATH,
      )?.valueExpression;
      if (!alternative) continue;
      const name = expression.name ? { name: expression.name } : {};
      extension.valueExpression = { ...name, language: FHIRPATH, expression: alternative.expression };
    }
  };
  const walk = (/** @type {Record<string, any>[] | undefined} */ items) => {
    for (const item of items || []) {
      swap(item.extension);
      walk(item.item);
    }
  };
  swap(copy.extension);
  walk(copy.item);
  return copy;
}
