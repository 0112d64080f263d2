"""The web edge: the Starlette app, git over HTTP, pages and the JSON API."""
