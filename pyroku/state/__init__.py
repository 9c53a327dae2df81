"""Platform state: models, persistence and the operations that change them.

Every operation takes a SQLAlchemy session from `Database.read()` / `Database.write()` and
raises a `StateError` subclass for anything the caller asked wrongly.
"""

from pyroku.state._accounts import (
    authenticate,
    check_password,
    create_user,
    find_authorization,
    find_user,
    generate_password,
    has_users,
    issue_token,
    list_authorizations,
    revoke,
)
from pyroku.state._apps import (
    add_collaborator,
    create_app,
    delete_app,
    find_app,
    find_collaborator,
    list_collaborators,
    remove_collaborator,
    update_app,
    visible_apps,
)
from pyroku.state._database import Database
from pyroku.state._domains import (
    FEATURES,
    add_domain,
    feature_enabled,
    feature_states,
    find_domain,
    list_domains,
    remove_domain,
    set_feature,
)
from pyroku.state._exceptions import Conflict, Forbidden, InvalidParams, NotFound, StateError, Unauthorized
from pyroku.state._formation import FormationUpdate, find_formation, list_formation, parse_quantity, update_formation
from pyroku.state._models import App, AppFeature, Authorization, Collaborator, Domain, Formation, Release, User
from pyroku.state._releases import (
    current_config,
    current_version,
    find_release,
    list_releases,
    rollback,
    set_config,
)

__all__ = [
    "FEATURES",
    "App",
    "AppFeature",
    "Authorization",
    "Collaborator",
    "Conflict",
    "Database",
    "Domain",
    "Forbidden",
    "Formation",
    "FormationUpdate",
    "InvalidParams",
    "NotFound",
    "Release",
    "StateError",
    "Unauthorized",
    "User",
    "add_collaborator",
    "add_domain",
    "authenticate",
    "check_password",
    "create_app",
    "create_user",
    "current_config",
    "current_version",
    "delete_app",
    "feature_enabled",
    "feature_states",
    "find_app",
    "find_authorization",
    "find_collaborator",
    "find_domain",
    "find_formation",
    "find_release",
    "find_user",
    "generate_password",
    "has_users",
    "issue_token",
    "list_authorizations",
    "list_collaborators",
    "list_domains",
    "list_formation",
    "list_releases",
    "parse_quantity",
    "remove_collaborator",
    "remove_domain",
    "revoke",
    "rollback",
    "set_config",
    "set_feature",
    "update_app",
    "update_formation",
    "visible_apps",
]
