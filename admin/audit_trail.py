"""Recording what operators do in the console, in the hash-chained audit log beside the management API's entries.

Kinds and subjects are the API's (``tenant.create`` on ``tenant:acme``, ``key.revoke`` on ``key:<id>``,
``route.put`` on ``tenant:acme/route:legal``); the actor is ``console:<login>``.
"""

from __future__ import annotations

import logging
from typing import Any

from admin.accounts import Identity
from admin.services import ConsoleServices

log = logging.getLogger("admin.audit")


def record(console: ConsoleServices, who: Identity, kind: str, subject: str, **change: Any) -> None:
    log.info("console action", extra={"action": kind, "subject": subject, "actor": who.login})
    attestations = console.attestations
    if attestations is not None:
        attestations.audit.append(kind, subject, {"actor": f"console:{who.login}", "role": who.role, "change": change})
