"""Built-in notifiers, ``dw.notify``: send an alert to a webhook, by email, or to a log.

Each factory checks its options at once (a bad URL fails when the pipeline file loads, not
when the first alert is due) and returns a small frozen, picklable value that is called
with an :class:`~dagwell.core.alerts.Alert`. A failed delivery raises :class:`OSError`;
the run's alert hooks retry it, log it and record it, and never fail the run.

>>> @dw.task(on_failure=[dw.notify.webhook("https://hooks.slack.com/services/T0/B0/x"),
...                      dw.notify.email("ops@example.com", smtp_host="smtp.example.com")])
... def fit(): ...
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagwell.errors import DefinitionError

if TYPE_CHECKING:
    import urllib.request

    from dagwell.core.alerts import Alert

ALERT_LOGGER = "dagwell.alerts"
"""The logger :func:`log` writes to."""

_USER_AGENT = "dagwell-alerts/1"


def _opener() -> urllib.request.OpenerDirector:
    """A urllib opener that reports redirects instead of following them."""
    # urllib.request, smtplib and email are imported where used: ``import dagwell`` (which
    # makes dw.notify) stays cheap for runs that send no alert.
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        # urllib would turn a redirected POST into a GET and report the GET's 200: a webhook
        # that answers 3xx has not taken the alert, so a redirect counts as a failure.
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    # Built per call: the opener reads the proxy variables of the environment.
    return urllib.request.build_opener(NoRedirects)


@dataclass(frozen=True)
class WebhookNotifier:
    """POSTs each alert as JSON to ``url``: the alert's fields plus a Slack-style ``text``.

    Made by :func:`webhook`. Any answer other than 2xx counts as a failed delivery.
    """

    url: str
    timeout: float = 10.0
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        try:
            parts = urllib.parse.urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except (ValueError, TypeError, AttributeError):
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise DefinitionError(
                f"dw.notify.webhook({self.url!r}): the URL must start with http:// or "
                "https:// and name a host, e.g. https://hooks.slack.com/services/..."
            )
        _check_timeout(self.timeout, "dw.notify.webhook")

    @property
    def name(self) -> str:
        """``webhook https://host/...``: where it posts, without the path's secrets."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        rest = "/..." if parts.path.strip("/") or parts.query else ""
        return f"webhook {parts.scheme.lower()}://{host}{port}{rest}"

    def __call__(self, alert: Alert) -> None:
        import json
        import urllib.error
        import urllib.request

        body = json.dumps({**alert.to_dict(), "text": alert.text}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": _USER_AGENT,
                **dict(self.headers),
            },
        )
        try:
            with _opener().open(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            answer = exc.read(200).decode(errors="replace").strip()
            raise OSError(
                f"{self.name} answered HTTP {exc.code}" + (f": {answer}" if answer else "")
            ) from None
        except urllib.error.URLError as exc:
            raise OSError(f"{self.name} is unreachable: {exc.reason}") from None


@dataclass(frozen=True)
class EmailNotifier:
    """Emails each alert over SMTP: the one-line text as subject, every field in the body.

    Made by :func:`email`; the password is left out of its ``repr`` and ``name``.
    """

    to: tuple[str, ...]
    smtp_host: str
    port: int = 25
    sender: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 10.0
    cafile: str | None = None

    def __post_init__(self) -> None:
        where = "dw.notify.email"
        if not self.to:
            raise DefinitionError(f"{where}: give at least one recipient address in to=")
        for address in self.to:
            if not isinstance(address, str) or "@" not in address.strip(" @"):
                raise DefinitionError(f"{where}: {address!r} is not an email address")
        if not isinstance(self.smtp_host, str) or not self.smtp_host.strip():
            raise DefinitionError(f"{where}: smtp_host must name the SMTP server")
        port = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise DefinitionError(f"{where}: port must be between 1 and 65535, got {port!r}")
        if self.starttls and self.ssl:
            raise DefinitionError(
                f"{where}: choose starttls=True (upgrade a plain connection, usually port "
                "587) or ssl=True (TLS from the start, usually port 465), not both"
            )
        if (self.username is None) != (self.password is None):
            raise DefinitionError(f"{where}: give both username and password, or neither")
        if self.username is not None and not (self.starttls or self.ssl):
            raise DefinitionError(
                f"{where}: logging in to {self.smtp_host} would send the password unencrypted; "
                "add starttls=True or ssl=True"
            )
        _check_timeout(self.timeout, where)

    @property
    def name(self) -> str:
        """``email ops@example.com via smtp.example.com:587``."""
        return f"email {', '.join(self.to)} via {self.smtp_host}:{self.port}"

    def __call__(self, alert: Alert) -> None:
        import smtplib
        import socket
        import ssl as tls
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        message = EmailMessage()
        message["Subject"] = alert.text
        message["From"] = self.sender or f"dagwell@{socket.gethostname()}"
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(idstring=alert.id)
        message.set_content(email_body(alert))
        context = tls.create_default_context(cafile=self.cafile)
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(
                self.smtp_host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.smtp_host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass(frozen=True)
class LogNotifier:
    """Writes each alert's one-line text to the ``dagwell.alerts`` logger. Made by :func:`log`.

    The record carries the whole alert as ``record.alert`` (a dict), for structured logs.
    """

    level: int = logging.WARNING

    @property
    def name(self) -> str:
        """``log WARNING``."""
        return f"log {logging.getLevelName(self.level)}"

    def __call__(self, alert: Alert) -> None:
        logging.getLogger(ALERT_LOGGER).log(
            self.level, "%s", alert.text, extra={"alert": alert.to_dict()}
        )


def webhook(
    url: str, *, timeout: float = 10, headers: Mapping[str, str] | None = None
) -> WebhookNotifier:
    """A notifier that POSTs each alert as JSON to ``url`` (http or https).

    The body is the alert's fields (``kind``, ``pipeline``, ``run_id``, ``node``, ``attempt``,
    ``summary``, ``error``, ``id``...) plus ``text``, the one line a Slack or Mattermost
    incoming webhook shows. ``headers`` are added to the request (e.g. an auth token).

    >>> slack = dw.notify.webhook("https://hooks.slack.com/services/T0/B0/XXXX")
    >>> slack.name
    'webhook https://hooks.slack.com/...'
    """
    pairs = tuple((str(k), str(v)) for k, v in (headers or {}).items())
    return WebhookNotifier(url, timeout=timeout, headers=pairs)


def email(
    to: str | Sequence[str],
    *,
    smtp_host: str,
    port: int = 25,
    sender: str | None = None,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    ssl: bool = False,
    timeout: float = 10,
    cafile: str | None = None,
) -> EmailNotifier:
    """A notifier that emails each alert to ``to`` (one address or a list) over SMTP.

    ``starttls`` upgrades the connection to TLS (usually port 587), ``ssl`` uses TLS from
    the start (usually 465); ``username`` and ``password`` log in, which needs one of them.
    Server certificates are verified, against ``cafile`` when given (a private CA).

    >>> ops = dw.notify.email(["ops@example.com"], smtp_host="smtp.example.com", port=587,
    ...                       starttls=True, username="dagwell", password=os.environ["SMTP_PW"])
    """
    recipients = (to,) if isinstance(to, str) else tuple(to)
    return EmailNotifier(
        recipients,
        smtp_host=smtp_host,
        port=port,
        sender=sender,
        username=username,
        password=password,
        starttls=starttls,
        ssl=ssl,
        timeout=timeout,
        cafile=cafile,
    )


def log(level: str | int = "WARNING") -> LogNotifier:
    """A notifier that logs each alert's one-line text to the ``dagwell.alerts`` logger.

    >>> @dw.pipeline(on_failure=dw.notify.log("ERROR"))
    ... def churn(): ...
    """
    number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if isinstance(number, bool) or not isinstance(number, int):
        raise DefinitionError(
            f"dw.notify.log({level!r}): use a logging level such as 'INFO', 'WARNING' or 'ERROR'"
        )
    return LogNotifier(number)


def email_body(alert: Alert) -> str:
    """The plain-text body of an alert email: one field per line, then the error."""
    fields = [
        ("alert", alert.id),
        ("kind", alert.kind.value),
        ("pipeline", alert.pipeline),
        ("run", alert.run_id),
        ("node", alert.node or "-"),
        ("attempt", str(alert.attempt) if alert.attempt is not None else "-"),
        ("raised at", alert.created_at.isoformat()),
        ("scheduled for", alert.scheduled_for.isoformat() if alert.scheduled_for else "-"),
    ]
    lines = [alert.summary, ""] + [f"{label + ':':<15}{value}" for label, value in fields]
    if alert.error:
        lines += ["", "error:", alert.error]
    return "\n".join(lines) + "\n"


def _check_timeout(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise DefinitionError(f"{where}: timeout must be a positive number of seconds")
