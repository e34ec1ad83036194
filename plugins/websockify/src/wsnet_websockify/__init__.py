"""wsnet-websockify: websockify-compatible WebSocket-to-TCP bridges on a wsnet node."""
