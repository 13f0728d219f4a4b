"""The few helpers every picture uses to write SVG text: escaping, numbers, short labels.

Pictures build their SVG as strings (no DOM, no dependency), so everything user-supplied goes
through :func:`text` or :func:`attr` on its way in; nothing else in the pictures escapes.
"""

from __future__ import annotations

import html
import re

SVG_NS = "http://www.w3.org/2000/svg"

# Characters XML 1.0 forbids even when escaped (C0 controls except tab, newline and carriage
# return, lone surrogates, U+FFFE/U+FFFF). A node name holding one would make the whole
# picture unparsable, so it is replaced, not escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

ELLIPSIS = "\u2026"


def text(value: object) -> str:
    """``value`` as SVG/HTML text content: markup escaped, characters XML forbids replaced.

    >>> text("<script>")
    '&lt;script&gt;'
    """
    return html.escape(_NOT_XML.sub("\ufffd", str(value)), quote=False)


def attr(value: object) -> str:
    """``value`` as the inside of a double-quoted attribute.

    >>> attr('a "b" & c')
    'a &quot;b&quot; &amp; c'
    """
    return html.escape(_NOT_XML.sub("\ufffd", str(value)), quote=True)


def num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (``12``, ``3.5``).

    >>> num(3.14159), num(2.0), num(-0.001)
    ('3.14', '2', '0')
    """
    out = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


def shorten(label: str, max_chars: int) -> str:
    """``label`` cut to ``max_chars`` characters with an ellipsis in the middle, which keeps
    the end that tells siblings apart (``train_gr…ing[12]``).

    >>> shorten("train_gradient_boosting[12]", 16)
    'train_gr…ing[12]'
    """
    if len(label) <= max_chars:
        return label
    if max_chars <= 1:
        return ELLIPSIS[:max_chars]
    tail = (max_chars - 1) // 2
    head = max_chars - 1 - tail
    return label[:head] + ELLIPSIS + label[len(label) - tail :]


def document(width: float, height: float, body: list[str], *, css_class: str, label: str) -> str:
    """An ``<svg>`` element of natural size ``width`` x ``height`` around ``body``.

    The viewBox is the same size, so the picture scales with CSS (``max-width: 100%``)
    without changing its proportions; ``label`` is its accessible name.

    >>> document(10, 5, [], css_class="x", label="empty").startswith("<svg")
    True
    """
    return (
        f'<svg xmlns="{SVG_NS}" class="{attr(css_class)}" width="{num(width)}"'
        f' height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}"'
        f' role="img" aria-label="{attr(label)}">' + "".join(body) + "</svg>"
    )
