"""Outreach delivery, the adapters: the in-app inbox, email over SMTP and signed
webhooks, and the worker that plans items and drains the due-queue through them."""
