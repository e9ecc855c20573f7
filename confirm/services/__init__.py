"""Use cases as plain functions: they take a session and ports, flush, and never commit."""
