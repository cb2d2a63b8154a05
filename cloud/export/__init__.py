"""Time-series export: telemetry, incident changes and fix outcomes mirrored to InfluxDB
(or anything serving its v2 write API) for Grafana, off when ``AFTERCARE_INFLUX_URL`` is
empty.

:mod:`cloud.export.points` says what is written (pure); :mod:`cloud.export.exporter`
writes it, bounded so that an InfluxDB outage costs points, never ingest.
"""
