"""Reporting: the audit trail, incident read model and closure reports in PostgreSQL."""
