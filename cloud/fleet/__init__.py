"""The fleet at a glance for the service dashboard: counts put into time buckets (pure)."""
