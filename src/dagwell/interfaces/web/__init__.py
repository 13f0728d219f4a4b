"""The web layer of dagwell: a FastAPI app serving the JSON API under ``/api/v1``,
``/metrics``, and (from other modules) the pages.

Needs the ``ui`` extra (``pip install 'dagwell[ui]'``); nothing here is imported by the
library. Start with :func:`dagwell.interfaces.web.app.create_app`.
"""
