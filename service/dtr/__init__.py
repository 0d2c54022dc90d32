"""Da Vinci DTR, payer side: the questionnaire package, pre-population, FHIR content reads."""
