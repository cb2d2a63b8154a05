"""Provisioning of factory-fresh devices over MQTT (the I/O side; the logic is in
:mod:`cloud.identity.provisioning` and :mod:`device_agent.provisioning`)."""
