"""The catalog: TOML data shipped in the package, plus optional user files.

``load_catalog(user_files)`` reads ``data/releases.toml``, ``data/roles.toml`` and every
``data/series/*.toml``, then each user file in order (which may add or replace
releases, roles, Ansible group mappings, whole series, or single services of a
series), validates the result and returns a frozen :class:`~stackstep.model.catalog.Catalog`.
Every problem found is reported at once in one :class:`~stackstep.errors.CatalogError`.
"""

from stackstep.catalog.loader import load_catalog

__all__ = ["load_catalog"]
