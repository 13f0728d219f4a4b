"""dw.notify: webhooks to a real HTTP server, email to a real SMTP server, and the log.

The receivers run on 127.0.0.1 in this process: ``http.server`` in a thread, and aiosmtpd
(plain, STARTTLS with a self-signed certificate made here, implicit TLS, and AUTH LOGIN).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import pickle
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import dagwell as dw
from dagwell.core.alerts import Alert, AlertKind

ALERT = Alert(
    id="a1b2c3d4e5",
    kind=AlertKind.FAILURE,
    pipeline="churn",
    run_id="3f2a9c0d1e2f",
    node="fit",
    attempt=3,
    summary="pipeline 'churn': task 'fit' failed on attempt 3: ValueError: bad C",
    created_at=dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone.utc),
    error="ValueError: bad C",
    scheduled_for=dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.timezone.utc),
)

# -- a real HTTP receiver ------------------------------------------------------------------


@dataclass
class Received:
    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def http_receiver(status: int = 200, location: str | None = None) -> Iterator[tuple[str, Received]]:
    got = Received(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(got.status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"nope" if got.status >= 300 else b"okay")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_posts_the_alert_as_json_with_a_slack_text_field() -> None:
    with http_receiver() as (base, got):
        dw.notify.webhook(f"{base}/services/T0/B0/x", headers={"X-Token": "t0k"})(ALERT)

    [(path, headers, body)] = got.requests
    assert path == "/services/T0/B0/x"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Token"] == "t0k"
    sent = json.loads(body)
    assert sent == {**ALERT.to_dict(), "text": ALERT.text}
    assert sent["text"].startswith("[dagwell] pipeline 'churn': task 'fit' failed")
    assert (sent["node"], sent["attempt"], sent["run_id"]) == ("fit", 3, "3f2a9c0d1e2f")


def test_webhook_answer_other_than_2xx_raises_oserror_naming_the_status() -> None:
    with http_receiver(status=500) as (base, _), pytest.raises(OSError, match="HTTP 500: nope"):
        dw.notify.webhook(f"{base}/hook")(ALERT)


def test_webhook_redirect_is_a_failed_delivery_not_followed() -> None:
    with (
        http_receiver(status=302, location="/elsewhere") as (base, got),
        pytest.raises(OSError, match="HTTP 302"),
    ):
        dw.notify.webhook(f"{base}/hook")(ALERT)
    assert [path for path, _, _ in got.requests] == ["/hook"]


def test_webhook_to_a_closed_port_raises_oserror_saying_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match="unreachable"):
        dw.notify.webhook(f"http://127.0.0.1:{port}/", timeout=2)(ALERT)


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "hooks.example.com/x", "file:///tmp/x", "http://", ""]
)
def test_webhook_url_without_http_or_https_is_refused_at_creation(url: str) -> None:
    with pytest.raises(dw.DefinitionError, match="http:// or https://") as caught:
        dw.notify.webhook(url)
    assert repr(url) in str(caught.value)


def test_webhook_name_shows_where_it_posts_without_path_or_credentials() -> None:
    hook = dw.notify.webhook("https://user:pw@hooks.slack.com:8443/services/T0/B0/XXXX?k=1")

    assert hook.name == "webhook https://hooks.slack.com:8443/..."
    assert dw.notify.webhook("http://127.0.0.1/").name == "webhook http://127.0.0.1"
    assert "t0k" not in repr(dw.notify.webhook("https://x.example", headers={"A": "t0k"}))


def test_webhook_timeout_must_be_positive() -> None:
    with pytest.raises(dw.DefinitionError, match="timeout"):
        dw.notify.webhook("https://x.example", timeout=0)


# -- a real SMTP server --------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_email_sends_the_text_as_subject_and_every_field_in_the_body() -> None:
    with smtp_server() as (port, inbox):
        dw.notify.email(
            ["ops@example.com", "ml@example.com"],
            smtp_host="127.0.0.1",
            port=port,
            sender="dagwell@example.com",
        )(ALERT)

    [(sender, recipients, message)] = inbox.messages
    assert sender == "dagwell@example.com"
    assert recipients == ["ops@example.com", "ml@example.com"]
    assert message["Subject"] == ALERT.text
    body = message.get_content()
    for value in ("a1b2c3d4e5", "failure", "churn", "3f2a9c0d1e2f", "fit", "3", "bad C"):
        assert value in body
    assert "2024-05-01T09:00:00+00:00" in body  # scheduled for


def test_email_with_starttls_to_a_server_that_requires_it(
    certificate: tuple[Path, Path],
) -> None:
    options = {"require_starttls": True, "tls_context": server_context(certificate)}
    with smtp_server(**options) as (port, inbox):
        notifier = dw.notify.email(
            "ops@example.com",
            smtp_host="127.0.0.1",
            port=port,
            starttls=True,
            cafile=str(certificate[0]),
        )
        notifier(ALERT)
    assert len(inbox.messages) == 1


def test_email_without_starttls_is_refused_by_a_server_that_requires_it(
    certificate: tuple[Path, Path],
) -> None:
    options = {"require_starttls": True, "tls_context": server_context(certificate)}
    with smtp_server(**options) as (port, inbox), pytest.raises(OSError):
        dw.notify.email("ops@example.com", smtp_host="127.0.0.1", port=port)(ALERT)
    assert inbox.messages == []


def test_email_with_starttls_verifies_the_server_certificate(
    certificate: tuple[Path, Path],
) -> None:
    options = {"require_starttls": True, "tls_context": server_context(certificate)}
    with smtp_server(**options) as (port, _), pytest.raises(ssl.SSLCertVerificationError):
        dw.notify.email("ops@example.com", smtp_host="127.0.0.1", port=port, starttls=True)(ALERT)


def test_email_logs_in_after_starttls(certificate: tuple[Path, Path]) -> None:
    logins: list[tuple[str, bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    options = {
        "require_starttls": True,
        "tls_context": server_context(certificate),
        "authenticator": authenticator,
        "auth_required": True,
    }
    with smtp_server(**options) as (port, inbox):
        good = dict(smtp_host="127.0.0.1", port=port, starttls=True, cafile=str(certificate[0]))
        dw.notify.email("ops@example.com", username="dagwell", password="s3cret", **good)(ALERT)
        with pytest.raises(OSError, match="535"):
            dw.notify.email("ops@example.com", username="dagwell", password="wrong", **good)(ALERT)

    assert len(inbox.messages) == 1
    assert logins[0][1:] == (b"dagwell", b"s3cret")


def test_email_over_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with smtp_server(ssl_context=server_context(certificate)) as (port, inbox):
        dw.notify.email(
            "ops@example.com",
            smtp_host="127.0.0.1",
            port=port,
            ssl=True,
            cafile=str(certificate[0]),
        )(ALERT)
    assert len(inbox.messages) == 1


def test_email_name_and_repr_leave_the_password_out() -> None:
    notifier = dw.notify.email(
        "ops@example.com",
        smtp_host="smtp.example.com",
        port=587,
        starttls=True,
        username="me",
        password="hunter2",
    )

    assert notifier.name == "email ops@example.com via smtp.example.com:587"
    assert "hunter2" not in repr(notifier)


@pytest.mark.parametrize(
    ("to", "options", "message"),
    [
        ([], {}, "at least one recipient"),
        ("", {}, "not an email address"),
        (["ops@example.com", "nobody"], {}, "'nobody' is not an email address"),
        ("ops@example.com", {"port": 0}, "between 1 and 65535"),
        ("ops@example.com", {"port": 70000}, "between 1 and 65535"),
        ("ops@example.com", {"smtp_host": ""}, "smtp_host"),
        ("ops@example.com", {"starttls": True, "ssl": True}, "not both"),
        ("ops@example.com", {"username": "me"}, "both username and password"),
        ("ops@example.com", {"username": "me", "password": "pw"}, "unencrypted"),
    ],
)
def test_email_options_are_checked_at_creation(
    to: Any, options: dict[str, Any], message: str
) -> None:
    options = {"smtp_host": "smtp.example.com", **options}
    with pytest.raises(dw.DefinitionError, match=message):
        dw.notify.email(to, **options)


# -- the log -------------------------------------------------------------------------------


def test_log_writes_the_text_to_the_dagwell_alerts_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="dagwell.alerts"):
        dw.notify.log("info")(ALERT)

    [record] = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == (
        "dagwell.alerts",
        logging.INFO,
        ALERT.text,
    )
    assert record.alert == ALERT.to_dict()
    assert dw.notify.log().name == "log WARNING"


def test_log_refuses_an_unknown_level() -> None:
    with pytest.raises(dw.DefinitionError, match="logging level"):
        dw.notify.log("LOUD")


def test_notifiers_are_plain_values_that_survive_pickling() -> None:
    """Tasks travel to worker processes with their hooks."""
    notifiers = [
        dw.notify.webhook("https://x.example/h", headers={"A": "b"}),
        dw.notify.email("ops@example.com", smtp_host="smtp.example.com"),
        dw.notify.log("ERROR"),
    ]
    assert [pickle.loads(pickle.dumps(n)) for n in notifiers] == notifiers
    assert len(set(notifiers)) == 3
