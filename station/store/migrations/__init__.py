"""Alembic migrations of the defect database (run them with ``station db upgrade``)."""
