"""The dyno manager: reconciles each app's formation and release into running dynos."""

from pyroku.dynos._control import DynoControl
from pyroku.dynos._exceptions import DynoError, InvalidDynoRequest, NoSuchDyno, NotDeployed
from pyroku.dynos._manager import DynoManager, DynoView
from pyroku.dynos._plan import AppPlan, ProcessPlan, load_plans
from pyroku.dynos._policy import ManagerConfig, config_from_env, cycle_after, restart_delay
from pyroku.dynos._rendezvous import Rendezvous

__all__ = [
    "AppPlan",
    "DynoControl",
    "DynoError",
    "DynoManager",
    "DynoView",
    "InvalidDynoRequest",
    "ManagerConfig",
    "NoSuchDyno",
    "NotDeployed",
    "ProcessPlan",
    "Rendezvous",
    "config_from_env",
    "cycle_after",
    "load_plans",
    "restart_delay",
]
