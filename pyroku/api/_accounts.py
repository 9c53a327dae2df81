"""Accounts, users and OAuth authorizations (API tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep, basic_credentials, bearer_token, client_key, rate_limit
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.state import (
    Unauthorized,
    authenticate,
    check_password,
    create_user,
    find_authorization,
    find_user,
    generate_password,
    issue_token,
    list_authorizations,
    revoke,
)

router = APIRouter()


class AuthorizationCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = Field(default=None, max_length=1000)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = Field(max_length=254)
    password: str | None = Field(default=None, max_length=1000)


@router.post("/oauth/authorizations", status_code=201)
def create_authorization(request: Request, body: AuthorizationCreate | None = None) -> JSONResponse:
    """Log in with HTTP Basic email:password (as `heroku login -i` does), or mint another
    token for the caller of a Bearer token."""
    rate_limit(request, client_key(request))
    description = (body.description if body else None) or "Pyroku API token"
    creds = basic_credentials(request)
    db = context(request).db
    with db.write() as session:
        user = None
        if creds:
            try:
                user = check_password(session, creds[0], creds[1])
            except Unauthorized:
                user = None
        if user is None:
            token = bearer_token(request)
            if not token:
                raise ApiError(401, "unauthorized", "Invalid credentials provided.")
            user = authenticate(session, token).user
        auth, token = issue_token(session, user, description)
        return JSONResponse(render.authorization(auth, user, token), status_code=201)


@router.get("/oauth/authorizations")
def list_oauth_authorizations(request: Request, caller: CallerDep) -> list[dict[str, object]]:
    with context(request).db.read() as session:
        user = caller.user(session)
        return [render.authorization(a, user, None) for a in list_authorizations(session, user)]


def _authorization_id(caller: CallerDep, auth_id: str) -> str:
    return caller.authorization_id if auth_id == "~" else auth_id


@router.get("/oauth/authorizations/{auth_id}")
def get_authorization(request: Request, caller: CallerDep, auth_id: str) -> dict[str, object]:
    with context(request).db.read() as session:
        user = caller.user(session)
        auth = find_authorization(session, user, _authorization_id(caller, auth_id))
        return render.authorization(auth, user, None)


@router.delete("/oauth/authorizations/{auth_id}")
def delete_authorization(request: Request, caller: CallerDep, auth_id: str) -> dict[str, object]:
    """Revoke a token; `~` is the one making this request (`pyroku logout`)."""
    with context(request).db.write() as session:
        user = caller.user(session)
        auth = find_authorization(session, user, _authorization_id(caller, auth_id))
        shown = render.authorization(auth, user, None)
        revoke(session, auth)
        return shown


@router.get("/account")
def get_account(request: Request, caller: CallerDep) -> dict[str, object]:
    with context(request).db.read() as session:
        return render.account(caller.user(session))


@router.get("/account/rate-limits")
def get_rate_limits(request: Request, caller: CallerDep) -> dict[str, int]:
    return {"remaining": context(request).limiter.remaining("user:" + caller.user_id)}


@router.post("/users", status_code=201)
def post_user(request: Request, caller: CallerDep, body: UserCreate) -> JSONResponse:
    """Create a user (operator only). A generated password is returned once."""
    if not caller.is_admin:
        raise ApiError(403, "forbidden", "Only the platform operator can create users.")
    password = body.password or generate_password()
    with context(request).db.write() as session:
        user = create_user(session, body.email, password)
        shown = render.account(user)
    if body.password is None:
        shown["password"] = password
    return JSONResponse(shown, status_code=201)


@router.get("/users/{user}")
def get_user(request: Request, caller: CallerDep, user: str) -> dict[str, object]:
    """Your own account (`~`, id or email); the operator may look up anyone."""
    with context(request).db.read() as session:
        me = caller.user(session)
        if user in ("~", me.id, me.email):
            return render.account(me)
        if not me.is_admin:
            raise ApiError(404, "not_found", f"Couldn't find that user ({user}).")
        return render.account(find_user(session, user))
