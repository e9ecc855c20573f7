"""Importing the national Excel template (and CSV): read, check everything, then commit all or nothing."""
