"""A payer's coverage-requirements service: CDS Hooks / Da Vinci CRD in front, DTR behind."""
