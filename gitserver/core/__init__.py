"""The core: config, data, git reads, queries and rules; no HTTP, nothing of ours outside it."""
