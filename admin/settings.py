"""The console's settings live with the gateway's (``gateway.console_settings``); re-exported here."""

from gateway.console_settings import ENV_PREFIX, ROLES, ConsoleSettings, Role

__all__ = ["ENV_PREFIX", "ROLES", "ConsoleSettings", "Role"]
