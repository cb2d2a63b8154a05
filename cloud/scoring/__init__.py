"""Scoring: each device's stored samples, in order, through its diagnosis into
incidents; and the schedule that keeps the fleet models it uses fresh."""
