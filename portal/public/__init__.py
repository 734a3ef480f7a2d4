"""The patients' side of the portal: the two forms and their confirmation pages."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402, F401  -- registers the routes on bp
