"""AI traders: model clients, prompts, decision parsing and validation."""
