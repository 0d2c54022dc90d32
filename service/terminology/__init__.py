"""Terminology as data: ValueSet membership, code normalisation, units."""
