"""Reusable helpers for tests (browser harness, servers); not tests themselves."""
