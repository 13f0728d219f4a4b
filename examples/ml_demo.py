"""The built-in ML demo as a pipeline file: `dagwell run examples/ml_demo.py`.

The pipeline itself lives in the package (``dagwell.demo``) so that ``dagwell demo`` works
after a plain ``pip install 'dagwell[ml]'``; read it there.
"""

from dagwell.demo import ml_demo

__all__ = ["ml_demo"]
