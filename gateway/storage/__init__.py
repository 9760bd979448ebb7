"""Persistent state: SQLModel tables, the engine, and Alembic migrations."""

from gateway.storage.database import Database
from gateway.storage.models import ApiKey, DirectoryState, Route, Tenant

__all__ = ["ApiKey", "Database", "DirectoryState", "Route", "Tenant"]
