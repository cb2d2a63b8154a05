"""Self-healing: signed commands, and (to come) choosing and verifying fixes."""
