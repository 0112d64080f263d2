"""Where the Jinja2 templates are: in the wheel, or in the source tree of an editable install.

`templates/` is a top-level folder of the source tree; the wheel ships it as the package data
`gitserver/templates` (see pyproject.toml). setuptools' editable installs do not map a nested
package onto another folder, so a source checkout reads the top-level folder itself.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def template_dir(kind: str) -> Path:
    """The folder of the `web` or `mail` templates."""
    shipped = _PACKAGE / "templates"
    root = shipped if shipped.is_dir() else _PACKAGE.parent / "templates"
    return root / kind
