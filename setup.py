"""The package page's description: README.md with its relative links made absolute from the one
repository address configured in pyproject.toml ([project.urls] Repository), so the links and the
figure work on the package index as they do in the repository. Everything else is in pyproject.toml."""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def repository() -> str:
    text = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1).rstrip("/")


def absolute_readme() -> str:
    repo = repository()

    def link(m: re.Match) -> str:
        bang, text, target = m.group(1), m.group(2), m.group(3)
        kind = "raw" if bang else ("tree" if target.endswith("/") else "blob")
        return f"{bang}[{text}]({repo}/{kind}/main/{target})"

    readme = (HERE / "README.md").read_text(encoding="utf-8")
    return re.sub(r"(!?)\[([^\]]*)\]\((?!https?://|#|mailto:)([^)\s]+)\)", link, readme)


setup(long_description=absolute_readme(), long_description_content_type="text/markdown")
