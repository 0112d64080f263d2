"""gitserver: a small, fast, self-hosted git push service that checks Python code with pylint."""

__version__ = "0.1.0"
