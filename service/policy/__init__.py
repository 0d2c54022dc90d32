"""Policies as data: one folder each, loaded once; the engine knows no drug by name."""
