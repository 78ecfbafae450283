"""Baton command line and local tooling."""
