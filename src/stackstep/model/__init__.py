"""Pure domain values: inventory, catalog, facts, plan. Standard library only."""
