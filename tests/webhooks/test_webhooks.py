"""Gatehouse's webhooks checked by a verifier this project did not write.

Each test runs the real binary (`gatehouse serve`, a separate process on a free loopback port,
a temporary data dir, the CLI on the same data dir) and a receiver on 127.0.0.1 that plays a
campus app. Every delivery's body is checked with the `standardwebhooks` package from PyPI:
`Webhook(secret).verify(body, headers)`, with the secret that `gatehouse webhook add --json`
printed. Run it with scripts/webhooks-test.sh, which makes the Python venv and passes the
binary in GATEHOUSE_BIN.

What is here, over real HTTP and real time:
  1. the account events (verified, updated, disabled, enabled, deleted), with ids only;
  2. a receiver that answers 500 twice gets the same webhook-id a third time (~5 s, ~10 s);
  3. a receiver that never answers is cut at 10 s and holds up no other endpoint;
  4. SIGKILL between a change and its delivery loses nothing.
The driver events (driver.*) need licence uploads and a clock moved by days: they are covered
in-process, by tests/it/webhooks.rs, and not here.

No secret is printed: the endpoint's secret is kept out of every repr and message.
"""

import email
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

BINARY = os.environ.get("GATEHOUSE_BIN", "")

DOMAIN = "hooks.edu"
ADMIN_EMAIL = f"root@{DOMAIN}"
ADMIN_PASSWORD = "Webhook-Admin-Pass-42"
STUDENT_EMAIL = f"sam.student@{DOMAIN}"
STUDENT_PASSWORD = "Quiet-Harbour-Lamp-42"


# --- the receiver: a campus app's webhook endpoint ---------------------------------------


@dataclass
class Delivery:
    """One request the receiver got: its headers (lower-case names), raw body and times."""

    headers: dict
    body: bytes
    received_at: float
    # For a receiver that never answers: when the sender gave up and closed the connection.
    closed_at: float | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        delivery = Delivery(headers, body, time.monotonic())
        status = receiver.record(delivery)
        if status is None:
            # Never answer; wait for the sender to close the connection (its timeout).
            self.connection.settimeout(60)
            try:
                while self.connection.recv(1024):
                    pass
            except OSError:
                pass
            delivery.closed_at = time.monotonic()
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Receiver:
    """Records every POST and answers with the next of `statuses` (the last one repeats);
    `hang=True`: accepts, reads the request and never answers."""

    def __init__(self, statuses=(204,), hang=False, port=0):
        self.statuses = list(statuses)
        self.hang = hang
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, delivery: Delivery):
        with self.lock:
            self.deliveries.append(delivery)
            if self.hang:
                return None
            return self.statuses[min(len(self.deliveries), len(self.statuses)) - 1]

    def got(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def wait_for(self, n: int, seconds: float, gatehouse: "Gatehouse") -> list[Delivery]:
        """The first `n` deliveries, once they are here; fails loudly after `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.got()
            if len(got) >= n:
                return got[:n]
            time.sleep(0.05)
        got = self.got()
        types = [_type_of(d) for d in got]
        raise AssertionError(
            f"the receiver got {len(got)} deliveries within {seconds} s, not {n}: {types}\n"
            f"{gatehouse.log_tail()}"
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _type_of(delivery: Delivery) -> str:
    try:
        return json.loads(delivery.body)["type"]
    except (ValueError, KeyError, TypeError):
        return "<not a JSON event>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the binary ---------------------------------------------------------------------------


@dataclass
class Endpoint:
    """A registered webhook endpoint and its secret (kept out of every repr)."""

    id: str
    url: str
    secret: str = field(repr=False)

    def verify(self, delivery: Delivery) -> dict:
        """The event, verified by the standardwebhooks library; raises if it does not verify."""
        return Webhook(self.secret).verify(delivery.body, delivery.headers)


class Gatehouse:
    """The binary on a temporary data dir: its CLI, and `gatehouse serve` as a child process."""

    def __init__(self, work: Path):
        self.data_dir = work / "data"
        self.work = work
        self.log_path = work / "server.log"
        # The server reads its whole configuration from GATEHOUSE_* here, nothing inherited.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        self.env.update(
            GATEHOUSE_STORAGE__DATA_DIR=str(self.data_dir),
            GATEHOUSE_SERVER__LISTEN="127.0.0.1:0",
            GATEHOUSE_RATE_LIMIT__ENABLED="false",
            GATEHOUSE_RATE_LIMIT__LOCKOUT="false",
            GATEHOUSE_CAPTCHA__ENABLED="false",
            GATEHOUSE_MAIL__TRANSPORT="maildir",
            GATEHOUSE_LOG__LEVEL="warn",
        )
        self.process: subprocess.Popen | None = None
        self.url = ""

    # The command line.

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [BINARY, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        # stdout may hold a secret (webhook add): only stderr goes into the message, and a
        # plain raise, since pytest would show the values in an assert's expression.
        if done.returncode != 0:
            raise AssertionError(
                f"`gatehouse {' '.join(args[:2])}` exited {done.returncode}: {done.stderr.strip()}"
            )
        return done.stdout

    def create_admin(self, address: str, password: str):
        password_file = self.work / f"password-{address}"
        password_file.write_text(password + "\n")
        self.cli("admin", "create", "--email", address, "--password-file", str(password_file),
                 "--display-name", "Hook Admin")

    def add_webhook(self, url: str, events: str = "") -> Endpoint:
        args = ["webhook", "add", "--url", url, "--json"]
        if events:
            args += ["--events", events]
        printed = json.loads(self.cli(*args))
        keys = sorted(printed)
        assert keys == ["id", "secret"], f"webhook add --json printed {keys}"
        endpoint = Endpoint(printed.pop("id"), url, printed.pop("secret"))
        if not endpoint.secret.startswith("whsec_"):
            raise AssertionError("the secret printed by webhook add is not a whsec_ secret")
        return endpoint

    # The server.

    def start(self):
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [BINARY, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            for line in text.splitlines():
                if " is serving on " in line:
                    self.url = "http://" + line.rsplit(" ", 1)[1].strip()
                    try:
                        urllib.request.urlopen(f"{self.url}/health", timeout=2).close()
                        return
                    except OSError:
                        pass
            assert self.process.poll() is None, f"gatehouse exited at start:\n{self.log_tail()}"
            time.sleep(0.05)
        raise AssertionError(f"gatehouse did not start within 30 s:\n{self.log_tail()}")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(the server wrote nothing)"
        text = self.log_path.read_text(errors="replace").splitlines()
        # The bootstrap link is a credential; nothing else in the log is (level warn).
        kept = [line for line in text if "token=" not in line][-lines:]
        return "the server's last lines:\n" + "\n".join(kept)

    def query(self, sql: str, *params) -> list[tuple]:
        """Reads the database, read-only, while the server runs."""
        path = self.data_dir / "gatehouse.db"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # The HTTP API.

    def api(self, method: str, path: str, body=None, token: str = "", expect: int = 200):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as answer:
            status, text = answer.code, answer.read().decode()
        assert status == expect, f"{method} {path}: {status}, not {expect}: {text[:500]}"
        return json.loads(text) if text else None

    def bearer(self, address: str, password: str) -> str:
        answer = self.api("POST", "/api/v1/auth/token", {"email": address, "password": password})
        return answer["access_token"]

    def verification_token(self, address: str, seconds: float = 15) -> str:
        """The token of the verification link mailed to `address` (the maildir in the data dir)."""
        maildir = self.data_dir / "mail" / "new"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path in sorted(maildir.glob("*")) if maildir.exists() else []:
                message = email.message_from_bytes(path.read_bytes())
                if address not in message.get("To", ""):
                    continue
                for part in message.walk():
                    if part.get_content_maintype() != "text":
                        continue
                    text = part.get_payload(decode=True).decode(errors="replace")
                    if "/verify-email?token=" in text:
                        token = text.split("/verify-email?token=", 1)[1]
                        token = "".join(c for c in token.split()[0] if c.isalnum() or c in "-_")
                        # The outbox marks the message sent just after writing the file; a
                        # person never clicks within milliseconds (see tests/e2e/lib/mail.js).
                        time.sleep(0.3)
                        return token
            time.sleep(0.1)
        raise AssertionError(f"no verification mail to {address} within {seconds} s")


@pytest.fixture
def gatehouse(tmp_path):
    """A data dir with one campus and an admin (both made with the CLI); not started yet."""
    assert BINARY and os.access(BINARY, os.X_OK), "set GATEHOUSE_BIN to the gatehouse binary"
    gatehouse = Gatehouse(tmp_path)
    gatehouse.cli("campus", "add", "--name", "Hook University", "--domain", DOMAIN)
    gatehouse.create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield gatehouse
    gatehouse.stop()


@pytest.fixture
def receivers():
    """Receivers made by a test, closed after it."""
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def assert_ids_only(event: dict, user_id: str, campus_id: int, personal: list[str]):
    """`data` names the user by id and campus id, and holds no email or name."""
    data = event["data"]
    assert data["user_id"] == user_id, f"{event['type']}: data.user_id is not the user's id"
    assert data["campus_id"] == campus_id, f"{event['type']}: data.campus_id is {data['campus_id']}"
    text = json.dumps(event)
    for value in personal:
        assert value not in text, f"{event['type']} carries personal data: {value!r}"
    assert "email" not in data and "name" not in data and "display_name" not in data


# --- 1. the account events ----------------------------------------------------------------


def test_account_events_are_delivered_and_verify_with_the_standardwebhooks_library(
    gatehouse, receivers
):
    receiver = receivers()
    endpoint = gatehouse.add_webhook(receiver.url)  # every event type
    gatehouse.start()
    (campus_id,) = gatehouse.query("SELECT id FROM campuses WHERE name = 'Hook University'")[0]
    events: list[dict] = []

    def expect_event(kind: str, within: float = 10) -> dict:
        delivery = receiver.wait_for(len(events) + 1, within, gatehouse)[-1]
        assert delivery.headers.get("content-type", "").startswith("application/json")
        event = endpoint.verify(delivery)  # raises WebhookVerificationError if it does not verify
        assert event["type"] == kind, f"expected {kind}, got {event['type']}"
        assert set(event) == {"type", "timestamp", "data"}, sorted(event)
        events.append(event)
        return event

    # A student signs up and verifies the emailed link: user.email_verified.
    display_name = "Sam Student"
    gatehouse.api(
        "POST",
        "/api/v1/auth/register",
        {"email": STUDENT_EMAIL, "password": STUDENT_PASSWORD, "display_name": display_name},
        expect=202,
    )
    token = gatehouse.verification_token(STUDENT_EMAIL)
    gatehouse.api("POST", "/api/v1/auth/verify-email", {"token": token})
    verified = expect_event("user.email_verified")
    student = gatehouse.bearer(STUDENT_EMAIL, STUDENT_PASSWORD)
    student_id = gatehouse.api("GET", "/api/v1/account", token=student)["id"]
    assert verified["data"]["email_verified"] is True

    # The verifier really checks: a changed body, or another secret, is refused.
    first = receiver.got()[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(first.body + b" ", first.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(first.body, first.headers)

    # The student changes the display name: user.updated (what changed, not to what).
    new_name = "Sam S."
    gatehouse.api("PATCH", "/api/v1/account", {"display_name": new_name}, token=student)
    updated = expect_event("user.updated")
    assert updated["data"]["changed"] == ["display_name"]

    # An admin disables and enables the student: user.disabled, user.enabled.
    admin = gatehouse.bearer(ADMIN_EMAIL, ADMIN_PASSWORD)
    gatehouse.api("POST", f"/api/v1/admin/users/{student_id}/disable", {}, token=admin)
    expect_event("user.disabled")
    gatehouse.api("POST", f"/api/v1/admin/users/{student_id}/enable", {}, token=admin)
    expect_event("user.enabled")

    # The student deletes the account (disabling ended the old token): user.deleted.
    student = gatehouse.bearer(STUDENT_EMAIL, STUDENT_PASSWORD)
    gatehouse.api("DELETE", "/api/v1/account", {"password": STUDENT_PASSWORD}, token=student,
                  expect=204)
    expect_event("user.deleted")

    personal = [STUDENT_EMAIL, STUDENT_EMAIL.split("@")[0], display_name, new_name, ADMIN_EMAIL]
    for event in events:
        assert_ids_only(event, student_id, campus_id, personal)
    ids = [d.webhook_id for d in receiver.got()]
    assert all(i.startswith("msg_") for i in ids) and len(set(ids)) == len(ids) == 5, ids
    # Nothing more came (each event once, to a receiver that answered 204 at once).
    time.sleep(1.5)
    assert len(receiver.got()) == 5, [_type_of(d) for d in receiver.got()]


# --- 2. retries keep the webhook-id -------------------------------------------------------


def test_a_receiver_that_fails_twice_gets_the_same_webhook_id_a_third_time(gatehouse, receivers):
    receiver = receivers(statuses=(500, 500, 204))
    endpoint = gatehouse.add_webhook(receiver.url, events="user.updated")
    gatehouse.start()
    admin = gatehouse.bearer(ADMIN_EMAIL, ADMIN_PASSWORD)
    gatehouse.api("PATCH", "/api/v1/account", {"display_name": "Root Two"}, token=admin)

    # At once, then 5 s later, then 10 s after that (1 s polls, whole seconds: some slack).
    tries = receiver.wait_for(3, 25, gatehouse)
    assert len({t.webhook_id for t in tries}) == 1, [t.webhook_id for t in tries]
    for delivery in tries:
        assert endpoint.verify(delivery)["type"] == "user.updated"
    first_wait = tries[1].received_at - tries[0].received_at
    second_wait = tries[2].received_at - tries[1].received_at
    assert 3.5 <= first_wait <= 8, f"the first retry came after {first_wait:.1f} s, not ~5 s"
    assert 8.5 <= second_wait <= 13, f"the second retry came after {second_wait:.1f} s, not ~10 s"

    # Marked sent after the 2xx, with three tries; no fourth.
    admin_deliveries = f"/api/v1/admin/webhooks/{endpoint.id}/deliveries"
    deadline = time.monotonic() + 5
    while gatehouse.api("GET", admin_deliveries, token=admin)[0]["state"] != "sent":
        assert time.monotonic() < deadline, "the delivery was not marked sent"
        time.sleep(0.1)
    shown = gatehouse.api("GET", admin_deliveries, token=admin)
    assert len(shown) == 1 and shown[0]["attempts"] == 3, shown
    assert shown[0]["message_id"] == tries[0].webhook_id
    time.sleep(1.5)
    assert len(receiver.got()) == 3


# --- 3. a hanging receiver holds up no one ------------------------------------------------


def test_a_hanging_receiver_is_cut_at_10_s_and_holds_up_no_other_endpoint(gatehouse, receivers):
    hanging = receivers(hang=True)
    prompt = receivers()
    # The hanging one first: its delivery is started first.
    stuck = gatehouse.add_webhook(hanging.url, events="user.updated")
    quick = gatehouse.add_webhook(prompt.url, events="user.updated")
    gatehouse.start()
    admin = gatehouse.bearer(ADMIN_EMAIL, ADMIN_PASSWORD)

    gatehouse.api("PATCH", "/api/v1/account", {"display_name": "Root Three"}, token=admin)
    changed_at = time.monotonic()
    held = hanging.wait_for(1, 5, gatehouse)[0]
    delivered = prompt.wait_for(1, 5, gatehouse)[0]
    took = delivered.received_at - changed_at
    assert took <= 2.5, f"the other endpoint's delivery took {took:.1f} s"
    event = quick.verify(delivered)
    assert stuck.verify(held) == event, "both endpoints got the same event"
    assert held.webhook_id != delivered.webhook_id

    # While the first still hangs, a second change reaches the other endpoint just as fast.
    time.sleep(2)
    assert held.closed_at is None, "the hanging delivery was cut before 10 s"
    gatehouse.api("PATCH", "/api/v1/account", {"display_name": "Root Four"}, token=admin)
    changed_at = time.monotonic()
    second = prompt.wait_for(2, 5, gatehouse)[1]
    assert second.received_at - changed_at <= 2.5
    quick.verify(second)

    # The hanging delivery is cut at the 10 s timeout and recorded to be tried again.
    deadline = held.received_at + 15
    while held.closed_at is None:
        assert time.monotonic() < deadline, "the hanging delivery was not cut within 15 s"
        time.sleep(0.1)
    cut_after = held.closed_at - held.received_at
    assert 9.5 <= cut_after <= 12, f"the hanging delivery was cut after {cut_after:.1f} s"
    path = f"/api/v1/admin/webhooks/{stuck.id}/deliveries"
    deadline = time.monotonic() + 5
    while True:
        first = [d for d in gatehouse.api("GET", path, token=admin)
                 if d["message_id"] == held.webhook_id][0]
        if first["attempts"] == 1:
            break
        assert time.monotonic() < deadline, f"the cut try was not recorded: {first}"
        time.sleep(0.1)
    assert first["state"] == "pending", first
    assert first["last_error"] == "no answer within 10 s", first


# --- 4. SIGKILL loses nothing -------------------------------------------------------------


def test_a_delivery_queued_before_sigkill_is_sent_after_the_restart(gatehouse, receivers):
    port = free_port()  # nothing listens there yet
    endpoint = gatehouse.add_webhook(f"http://127.0.0.1:{port}/hooks", events="user.disabled")
    other, other_password = f"other.admin@{DOMAIN}", "Second-Admin-Pass-42"
    gatehouse.create_admin(other, other_password)
    gatehouse.start()
    admin = gatehouse.bearer(ADMIN_EMAIL, ADMIN_PASSWORD)
    other_token = gatehouse.bearer(other, other_password)
    other_id = gatehouse.api("GET", "/api/v1/account", token=other_token)["id"]

    gatehouse.api("POST", f"/api/v1/admin/users/{other_id}/disable", {}, token=admin)
    queued = gatehouse.query(
        "SELECT message_id, event_type FROM webhook_deliveries"
        " WHERE endpoint_id = ? AND sent_at IS NULL AND failed_at IS NULL",
        endpoint.id,
    )
    assert len(queued) == 1 and queued[0][1] == "user.disabled", queued
    message_id = queued[0][0]
    gatehouse.kill9()

    receiver = receivers(port=port)
    gatehouse.start()
    delivery = receiver.wait_for(1, 15, gatehouse)[0]
    assert delivery.webhook_id == message_id, "the delivery after the restart has another id"
    event = endpoint.verify(delivery)
    assert event["type"] == "user.disabled" and event["data"]["user_id"] == other_id
    deadline = time.monotonic() + 5
    while gatehouse.query("SELECT count(*) FROM webhook_deliveries WHERE sent_at IS NULL")[0][0]:
        assert time.monotonic() < deadline, "the delivery was not marked sent"
        time.sleep(0.1)
