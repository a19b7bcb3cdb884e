"""The viewer page at `GET /`: one self-contained HTML file shipped in the image (no CDN, no build step),
which calls the API with relative URLs, so it works on any host, port or stage path."""

from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).with_name("static") / "index.html"


@lru_cache(maxsize=1)
def page() -> str:
    """The page's HTML, read once per process."""
    return PAGE.read_text(encoding="utf-8")


def viewer() -> HTMLResponse:
    """Drop a scene, see its thumbnail, attributes and footprint."""
    return HTMLResponse(page(), headers={"Cache-Control": "no-cache"})


def install_viewer(app: FastAPI) -> None:
    """Serve the page at `/` (outside the OpenAPI schema: it is not part of the API)."""
    app.add_api_route("/", viewer, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
