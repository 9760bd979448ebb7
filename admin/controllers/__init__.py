"""The console's page and htmx-partial controllers; each declares its role guard once."""

from admin.controllers.audit import AttestationController, AuditController, QueueController
from admin.controllers.backends import BackendsController
from admin.controllers.dashboard import DashboardController
from admin.controllers.signin import SignInController
from admin.controllers.tenants import KeysController, TenantsController
from admin.controllers.usage import UsageController

CONTROLLERS = [
    SignInController,
    DashboardController,
    TenantsController,
    KeysController,
    UsageController,
    BackendsController,
    AuditController,
    AttestationController,
    QueueController,
]

__all__ = ["CONTROLLERS"]
