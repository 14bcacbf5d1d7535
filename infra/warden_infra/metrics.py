"""The functions' metrics, read from shared/metrics.json: the one list the Rust code emits
(one embedded metric format record per invocation, see shared/src/metrics) and the dashboard
and alarms refer to. A name that is not in the catalogue is a KeyError at deploy time, so the
stack can never graph or alarm on a metric the functions do not write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "shared" / "metrics.json"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    emitted: str  # "always", "sweep" (apply-mode sweeps) or "nonzero"
    meaning: str


@dataclass(frozen=True)
class Catalogue:
    namespace: str  # the default; the stack's metricsNamespace overrides it
    dimension: str  # the one dimension: the function's name (AWS_LAMBDA_FUNCTION_NAME)
    metrics: dict[str, Metric]
    families: dict[str, tuple[str, ...]]  # family -> keys; metric names are <family>.<key>

    def name(self, name: str) -> str:
        """`name`, if the functions emit it; KeyError otherwise."""
        if name not in self.metrics:
            raise KeyError(f"{name} is not a metric of shared/metrics.json")
        return name

    def family(self, family: str) -> list[str]:
        """Every metric of a family (`Actions` -> `Actions.Create`, ...)."""
        return [f"{family}.{key}" for key in self.families[family]]


def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    raw = json.loads(path.read_text())
    metrics = {m["name"]: Metric(m["name"], m["unit"], m["emitted"], m["meaning"]) for m in raw["metrics"]}
    families: dict[str, tuple[str, ...]] = {}
    for f in raw["families"]:
        families[f["family"]] = tuple(f["keys"])
        for key in f["keys"]:
            name = f"{f['family']}.{key}"
            metrics[name] = Metric(name, f["unit"], f["emitted"], f"{f['meaning']} ({f['by']} {key})")
    return Catalogue(namespace=raw["namespace"], dimension=raw["dimension"], metrics=metrics, families=families)


CATALOGUE = load()
