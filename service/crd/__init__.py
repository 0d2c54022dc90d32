"""Da Vinci CRD: coverage selection, coverage-information, cards, CRD versions."""
