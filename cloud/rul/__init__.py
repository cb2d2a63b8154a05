"""Remaining useful life, pure: per-model time-to-failure models trained on run-to-failure
histories, with prediction intervals a planner can act on."""
