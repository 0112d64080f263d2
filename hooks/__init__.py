"""Receive hooks git runs for every push: policy (pre-receive), record (post-receive)."""
