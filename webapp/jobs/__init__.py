"""Background jobs: plain functions taking ids, run by the RQ worker (or right after the response without Redis)."""
