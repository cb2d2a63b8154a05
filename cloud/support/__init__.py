"""Support requests that arrive with diagnostics: the SLA rules (pure, :mod:`.sla`), the
cloud's own summary of a device (:mod:`.summary`) and the worker that collects bundles
and runs the SLA clocks (:mod:`.worker`)."""
