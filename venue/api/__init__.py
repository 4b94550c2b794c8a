"""The HTTP and WebSocket API (FastAPI): thin routes that translate to commands and read the read model."""
