"""Render the catalog: releases with their upgrade paths, and each series' services."""

from __future__ import annotations

from stackstep.model.catalog import Catalog, Series
from stackstep.model.plan import Json


def render_catalog(catalog: Catalog, series_name: str | None = None) -> str:
    lines = ["Releases (-> supported upgrades; * = SLURP):"]
    for release in catalog.releases:
        star = "*" if release.slurp else " "
        targets = ", ".join(t.name for t in catalog.targets(release)) or "-"
        covered = ", ".join(s.name for s in catalog.series if release.name in s.releases)
        data = f"  [service data: {covered}]" if covered else ""
        lines.append(f"  {release.version}{star} {release.name:<10} -> {targets}{data}")
    for series in catalog.series:
        if series_name is None or series.name == series_name:
            lines.append("")
            lines.extend(_series(series))
    lines.append("")
    lines.append("Roles: " + "; ".join(f"{r} = {', '.join(e)}" for r, e in catalog.roles.items()))
    return "\n".join(lines) + "\n"


def _series(series: Series) -> list[str]:
    lines = [
        f"Series {series.name}: {series.title}",
        f"  releases: {', '.join(series.releases)}",
        "  services, in upgrade order:",
    ]
    for index, service in enumerate(series.services, start=1):
        alias = f" (also {', '.join(service.aliases)})" if service.aliases else ""
        after = f"; after {', '.join(service.after)}" if service.after else ""
        lines.append(f"  {index}. {service.name}{alias}: {service.title}{after}")
        comps = ", ".join(c.name for c in service.components)
        lines.append(f"       components: {comps}")
        if service.migrate:
            lines.append("       migrate: " + "; ".join(" ".join(h.argv) for h in service.migrate))
        for hook in (*service.pre_upgrade, *service.post_upgrade):
            lines.append(f"       quirk: {hook.description}")
        if service.probe is not None:
            lines.append(f"       probe: GET :{service.probe.port}{service.probe.path}")
    return lines


def catalog_json(catalog: Catalog) -> dict[str, Json]:
    return {
        "releases": [
            {
                "name": r.name,
                "version": r.version,
                "slurp": r.slurp,
                "targets": [t.name for t in catalog.targets(r)],
            }
            for r in catalog.releases
        ],
        "series": [
            {
                "name": s.name,
                "title": s.title,
                "releases": list(s.releases),
                "services": [
                    {
                        "name": sv.name,
                        "aliases": list(sv.aliases),
                        "after": list(sv.after),
                        "components": [c.name for c in sv.components],
                        "migrate": [list(h.argv) for h in sv.migrate],
                    }
                    for sv in s.services
                ],
            }
            for s in catalog.series
        ],
        "roles": {k: list(v) for k, v in catalog.roles.items()},
        "sources": list(catalog.sources),
        "digest": catalog.digest,
    }
