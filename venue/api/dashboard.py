"""The risk officer's dashboard: one page served by the venue, its script and plotly.js.

The page itself is public (it holds no data); everything it shows comes from the risk routes and the
``risk@all`` / ``risk@{account}`` / ``liquidations@all`` WebSocket channels, which need a risk officer's
(or admin's) API key. The key is typed into the page, or passed in the URL fragment
(``/dashboard#key=vk_...``; a fragment never reaches a server or its logs), and kept in the tab's
session storage. plotly.js is served from the plotly package, so the page works offline.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
CACHE = {"Cache-Control": "public, max-age=3600"}


@router.get("")
def page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html")


@router.get("/dashboard.js")
def script() -> FileResponse:
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")


@router.get("/dashboard.css")
def style() -> FileResponse:
    return FileResponse(STATIC / "dashboard.css", media_type="text/css")


@router.get("/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=CACHE)
