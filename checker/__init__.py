"""Checks pushed Python files with pylint: the sandboxed runner and the Huey tasks."""
