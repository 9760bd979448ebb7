"""The admin console: server-rendered pages and htmx partials for operators and reviewers.

Plugged into the gateway with ``create_app(settings, extensions=[install_console])``.
"""

from admin.console import install_console
from admin.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "install_console"]
