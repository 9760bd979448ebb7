"""HTTP handlers: thin functions over the services in ``gateway.services``."""
