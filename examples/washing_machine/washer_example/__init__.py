"""An example manufacturer's device model for Aftercare: the ``washer-wm1`` washing machine."""

from washer_example.model import WashingMachine

__all__ = ["WashingMachine"]
