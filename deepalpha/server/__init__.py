"""deepalpha serve: the engine's HTTP/WebSocket face."""
