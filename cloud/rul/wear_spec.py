"""What wears out on a device model and how it shows, as data: one YAML per model under
``cloud/rul/wear/``, loaded with the shared data-file loader.

A *wear spec* names the component, the event the device reports when it fails, the load
condition under which the wear shows (a worn contact only heats under current), and the
indicators: telemetry turned into physics-normalised numbers that rise or fall with the
wear and not with the weather or the load (connector temperature rise over idle per A²,
COP over the Carnot COP of the same temperatures). Adding a model is adding a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.datafile import DataFileError, load_yaml_model

__all__ = [
    "WEAR_DIR",
    "FailureSpec",
    "Indicator",
    "LoadCondition",
    "WearSpec",
    "WearSpecError",
    "load_wear_spec",
    "load_wear_specs",
]

WEAR_DIR = Path(__file__).parent / "wear"
MetricName = str


class WearSpecError(DataFileError):
    """A wear spec that cannot be used, or a model without one."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FailureSpec(_Strict):
    """How the device says the part failed: an event of ``event`` whose detail carries
    ``signature``."""

    event: str = "part_failed"
    signature: str = Field(pattern=r"^[a-z][a-z0-9-]*/[a-z][a-z0-9_]*$")


class LoadCondition(_Strict):
    """Samples under load: ``metric`` above ``above`` and above ``share`` of
    ``share_of`` (another metric, e.g. the current limit) when given, for at least
    ``settle_s`` (thermal lags have settled) and, when ``window_s`` is given, at most that
    long (early in a session, so the ambient has not moved much since it started)."""

    metric: MetricName
    above: float = 0.0
    share_of: MetricName | None = None
    share: float = Field(default=0.0, ge=0.0, le=1.0)
    settle_s: float = Field(default=0.0, ge=0.0)
    window_s: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _window_after_settling(self) -> LoadCondition:
        if self.window_s is not None and self.window_s <= self.settle_s:
            raise ValueError("window_s must be longer than settle_s")
        return self


class Indicator(_Strict):
    """One wear indicator per sample under load:

    - ``level``: the metric itself;
    - ``ratio``: metric / ``by`` (compressor current per kW of heat);
    - ``rise_per_square``: (metric - its latest value when idle) / ``by``² (I²R heating
      over the ambient the idle connector showed before the load began), divided by
      ``1 - exp(-t / tau_s)`` of the time under load when ``tau_s`` is given (the share of
      its final rise a first-order lag has reached), and with the idle level carried
      along the trend it followed over ``idle_trend_s`` before the load when given;
    - ``carnot_efficiency``: metric × (hot - cold) / (hot + 273.15), with ``hot`` and
      ``cold`` metrics plus their approach offsets in kelvin (COP over Carnot).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    metric: MetricName
    kind: Literal["level", "ratio", "rise_per_square", "carnot_efficiency"]
    by: MetricName | None = None
    hot: MetricName | None = None
    cold: MetricName | None = None
    hot_offset_k: float = 0.0
    cold_offset_k: float = 0.0
    tau_s: float | None = Field(default=None, gt=0.0)
    idle_trend_s: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _inputs_of_kind(self) -> Indicator:
        if self.kind in ("ratio", "rise_per_square") and self.by is None:
            raise ValueError(f"a {self.kind} indicator needs 'by': the metric it divides by")
        if self.kind == "carnot_efficiency" and (self.hot is None or self.cold is None):
            raise ValueError("a carnot_efficiency indicator needs 'hot' and 'cold' metrics")
        return self


class WearSpec(_Strict):
    """What wears out on ``model`` and the features that follow it; see module doc."""

    model: str
    component: str
    failure: FailureSpec
    load: LoadCondition
    indicators: list[Indicator] = Field(min_length=1)
    smoothing_periods: float = Field(default=24.0, gt=0)
    """Half-life, in loaded periods, of the smoothed indicator columns."""
    baseline_periods: int = Field(default=24, ge=1)
    """Loaded periods at the start of a history that set the device's own baseline."""
    trend_periods: int = Field(default=72, ge=1)
    """Periods over which the ``_trend`` columns measure how fast the wear grows."""

    @model_validator(mode="after")
    def _unique_names(self) -> WearSpec:
        names = [indicator.name for indicator in self.indicators]
        if len(set(names)) != len(names):
            raise ValueError(f"indicator names must be unique, not {names}")
        return self

    def metrics(self) -> set[str]:
        """Every metric the features read."""
        load = self.load
        needed = {load.metric} | ({load.share_of} if load.share_of else set())
        for ind in self.indicators:
            needed |= {m for m in (ind.metric, ind.by, ind.hot, ind.cold) if m is not None}
        return needed


def load_wear_spec(model: str, directory: Path = WEAR_DIR) -> WearSpec:
    """The wear spec of ``model`` from ``{directory}/{model}.yaml``; raises WearSpecError
    with the file, line and reason when it is missing or invalid."""
    path = directory / f"{model}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise WearSpecError(path, None, f"no wear spec for model {model!r}; known: {known}")
    spec = load_yaml_model(path, WearSpec, WearSpecError)
    if spec.model != model:
        raise WearSpecError(path, None, f"model: says {spec.model!r}, the file is for {model!r}")
    return spec


def load_wear_specs(directory: Path = WEAR_DIR) -> list[WearSpec]:
    """Every wear spec in ``directory`` (one YAML file per device model), by model."""
    return [load_wear_spec(path.stem, directory) for path in sorted(directory.glob("*.yaml"))]
