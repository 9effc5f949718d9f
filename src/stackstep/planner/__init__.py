"""The planner: pure ``(inventory, catalog, facts, options) -> Plan``. No I/O.

``build_plan`` resolves the releases and the series, selects and orders the services
(catalog order, ``after`` constraints, ``--only``/``--skip``), then hands over to the
chosen strategy, which assembles the tree from one small builder per kind of step
(``steps.py``). The facts come from discovery (``facts_from_discovery``: ``plan
--discover``, ``upgrade``) or from the inventory alone (``facts_from_inventory``).
"""

from stackstep.planner.build import build_plan
from stackstep.planner.facts import facts_from_inventory
from stackstep.planner.options import AUTO, STRATEGIES, PlanOptions

__all__ = ["AUTO", "STRATEGIES", "PlanOptions", "build_plan", "facts_from_inventory"]
