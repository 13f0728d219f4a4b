"""The UI's pictures, drawn as SVG text by pure functions: no I/O and no web framework, so
pages embed them server-side, tests read them as XML, and htmx polling swaps them in.

- :mod:`~dagwell.interfaces.web.pictures.dag`: :func:`layout` and :func:`dag_svg`, a run's DAG;
- :mod:`~dagwell.interfaces.web.pictures.gantt`: :func:`gantt_svg`, attempts on a time axis;
- :mod:`~dagwell.interfaces.web.pictures.charts`: :func:`line_chart_svg`, metrics by step;
- :mod:`~dagwell.interfaces.web.pictures.palette`: the state colours, also as CSS;
- :mod:`~dagwell.interfaces.web.pictures.svg`: escaping and number helpers they share.
"""
