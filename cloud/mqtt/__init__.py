"""The cloud's MQTT adapters: the embedded broker for zero-setup runs."""
