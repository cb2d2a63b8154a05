"""Outreach planning in the service: the worker that turns what happened into items."""
