"""Every client command, registered on a group under its Heroku name and aliases."""

from __future__ import annotations

from pyroku.cli import _access, _apps, _auth, _builds, _config, _domains, _dynos, _logs, _ps, _releases, _users
from pyroku.cli._group import PyrokuGroup


def add_client_commands(group: PyrokuGroup) -> None:
    """Register the commands; aliases (``auth:login``, ``apps:create``, ...) are hidden from help."""
    commands = {
        _auth.login: ["auth:login"],
        _auth.logout: ["auth:logout"],
        _auth.whoami: ["whoami"],
        _auth.token: [],
        _apps.apps_list: ["apps:list"],
        _apps.apps_create: ["apps:create"],
        _apps.apps_info: ["info"],
        _apps.apps_destroy: ["destroy"],
        _apps.apps_rename: ["rename"],
        _apps.apps_open: ["apps:open"],
        _apps.maintenance: [],
        _apps.maintenance_on: [],
        _apps.maintenance_off: [],
        _config.config: ["config:list"],
        _config.config_get: [],
        _config.config_set: ["config:add"],
        _config.config_unset: ["config:remove"],
        _releases.releases: [],
        _releases.releases_info: [],
        _releases.releases_output: [],
        _releases.rollback: ["releases:rollback"],
        _ps.ps_scale: ["scale"],
        _access.access: ["access:list"],
        _access.access_add: ["sharing:add"],
        _access.access_remove: ["sharing:remove"],
        _users.users_create: [],
        _dynos.ps: ["ps:list"],
        _dynos.ps_restart: ["restart", "dyno:restart"],
        _dynos.ps_stop: ["stop", "dyno:stop"],
        _dynos.ps_type: ["ps:resize", "dyno:type"],
        _dynos.run: [],
        _dynos.run_detached: [],
        _logs.logs: [],
        _logs.drains: ["drains:list"],
        _logs.drains_add: [],
        _logs.drains_remove: [],
        _domains.domains: ["domains:list"],
        _domains.domains_add: [],
        _domains.domains_remove: [],
        _domains.certs: [],
        _domains.certs_add: [],
        _domains.certs_remove: [],
        _domains.features: [],
        _domains.features_enable: [],
        _domains.features_disable: [],
        _builds.buildpacks: ["buildpacks:list"],
        _builds.buildpacks_set: [],
        _builds.buildpacks_add: [],
        _builds.buildpacks_remove: [],
        _builds.buildpacks_clear: [],
        _builds.builds: ["builds:list"],
        _builds.builds_info: [],
        _builds.builds_output: [],
        _builds.builds_create: [],
        _builds.builds_cache_purge: [],
        _builds.git_remote: [],
    }
    for command, aliases in commands.items():
        group.add_command(command)
        for alias in aliases:
            group.add_alias(command, alias)
