"""Console accounts (admin only): list, create a local user, disable/enable, reset a password, change a role."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from admin.accounts import AccountError, generate_password
from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form, first
from admin.pagination import page_number
from admin.services import ConsoleServices
from admin.settings import ROLES

FormBody = URLEncodedBody[dict[str, Any]]


def blank_form() -> Form:
    return Form({"username": "", "role": "reviewer", "password": ""})


def accounts_context(
    console: ConsoleServices,
    page: int,
    form: Form | None = None,
    issued: dict[str, str] | None = None,
    problem: str | None = None,
) -> dict[str, Any]:
    return {
        "active": "accounts",
        "listing": console.accounts.list(page, console.settings.page_size),
        "account_form": form or blank_form(),
        "roles": ROLES,
        "issued": issued,
        "problem": problem,
        "local_login": console.settings.local_login,
    }


class AccountsController(Controller):
    path = "/accounts"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(
        self, console: NamedDependency[ConsoleServices], request: Request, page: FromQuery[int | None] = None
    ) -> Template:
        partial = request.headers.get("hx-target") == "accounts"
        return Template(
            template_name="_accounts.html" if partial else "accounts.html",
            context=accounts_context(console, page_number(page)),
        )

    @post("/", status_code=200, sync_to_thread=True)
    def create(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Template:
        username, role = first(data, "username"), first(data, "role")
        typed = str(data.get("password") or "")
        form = Form({"username": username, "role": role, "password": ""})
        password = typed or generate_password()
        try:
            user = console.accounts.create_local(username, password, role)
        except AccountError as exc:
            form.error(exc.field, exc.message)
            return Template(template_name="_accounts.html", status_code=422, context=accounts_context(console, 1, form))
        record(console, request.user, "account.create", f"account:{user.login}", role=role)
        issued = {"login": user.login, "password": password, "generated": not typed}
        return Template(template_name="_accounts.html", context=accounts_context(console, 1, issued=issued))

    @post("/{user_id:int}", status_code=200, sync_to_thread=True)
    def change(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        user_id: FromPath[int],
        data: FormBody,
        page: FromQuery[int | None] = None,
    ) -> Template:
        """One change per request: ``action`` is ``disable``, ``enable``, ``role`` or ``password``."""
        action = first(data, "action")
        issued, problem = None, None
        user = console.accounts.get(user_id)
        try:
            if action in ("disable", "enable"):
                console.accounts.set_disabled(user_id, action == "disable")
                record(console, request.user, f"account.{action}", f"account:{user.login}")
            elif action == "role":
                role = first(data, "role")
                console.accounts.set_role(user_id, role)
                record(console, request.user, "account.role", f"account:{user.login}", role=role)
            elif action == "password":
                password = console.accounts.reset_password(user_id)
                record(console, request.user, "account.password_reset", f"account:{user.login}")
                issued = {"login": user.login, "password": password, "generated": True}
            else:
                problem = f"Unknown action {action!r}."
        except AccountError as exc:
            problem = exc.message
        return Template(
            template_name="_accounts.html",
            status_code=422 if problem else 200,
            context=accounts_context(console, page_number(page), issued=issued, problem=problem),
        )
