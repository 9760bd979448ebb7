"""LoRA adapters: upload, validation, content-addressed storage, registry, serving state and canary rollout."""
