"""The console's page and htmx-partial controllers; each declares its role guard once."""

from admin.controllers.accounts import AccountsController
from admin.controllers.adapters import AdaptersController
from admin.controllers.audit import AttestationController, AuditController
from admin.controllers.backends import BackendsController
from admin.controllers.dashboard import DashboardController
from admin.controllers.guardrails import GuardrailsController
from admin.controllers.knowledge import KnowledgeController
from admin.controllers.labeling import LabelingController, QueueController
from admin.controllers.prices import PricesController
from admin.controllers.signin import SignInController
from admin.controllers.tenants import KeysController, TenantsController
from admin.controllers.training import TrainingController
from admin.controllers.usage import UsageController

CONTROLLERS = [
    SignInController,
    DashboardController,
    TenantsController,
    KeysController,
    GuardrailsController,
    PricesController,
    AccountsController,
    UsageController,
    BackendsController,
    AdaptersController,
    KnowledgeController,
    AuditController,
    AttestationController,
    QueueController,
    LabelingController,
    TrainingController,
]

__all__ = ["CONTROLLERS"]
