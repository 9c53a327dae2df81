"""The dyno manager: reconciles each app's formation and release into running dynos."""

from pyroku.dynos._manager import DynoManager, DynoView
from pyroku.dynos._plan import AppPlan, ProcessPlan, load_plans
from pyroku.dynos._policy import ManagerConfig, cycle_after, restart_delay

__all__ = [
    "AppPlan",
    "DynoManager",
    "DynoView",
    "ManagerConfig",
    "ProcessPlan",
    "cycle_after",
    "load_plans",
    "restart_delay",
]
