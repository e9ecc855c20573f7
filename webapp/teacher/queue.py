"""The review queue: one submission after another, and bulk approval."""
