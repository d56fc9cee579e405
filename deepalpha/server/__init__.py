"""The HTTP/WebSocket face of the engine: ``deepalpha serve``."""
