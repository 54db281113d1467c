"""Schemathesis hook for scripts/fuzz-api.sh: signs the fuzzing admin in for a bearer token.

The fuzzer calls logout and token revocation too, which end the token it is using (as they
must), so a fresh access token is fetched every few seconds instead of once.

The fuzzer also learns the admin's email (from `GET /api/v1/admin/users`) and sends it with
made-up passwords; scripts/fuzz-api.sh runs the server with `rate_limit.lockout = false` so
those cannot lock the run out of its own identity.

A sign-in costs an argon2 hash on the server's bounded hashing pool, where it may queue behind
the fuzzer's own sign-in attempts on a loaded machine. A failed fetch is therefore tried again
a few times (waiting longer each time) before schemathesis is told, and every failure says why
on stderr (status and problem code, never the token), so that a CI log shows the cause.
"""

import os
import sys
import time

import requests
import schemathesis

ATTEMPTS = 5


def fetch_token():
    url = os.environ["GATEHOUSE_FUZZ_URL"] + "/api/v1/auth/token"
    credentials = {
        "email": os.environ["GATEHOUSE_FUZZ_EMAIL"],
        "password": os.environ["GATEHOUSE_FUZZ_PASSWORD"],
    }
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = requests.post(url, json=credentials, timeout=30)
            if answer.status_code == 200:
                return answer.json()["access_token"]
            try:
                code = answer.json().get("code")
            except ValueError:
                code = None
            reason = f"status {answer.status_code}, code {code}"
        except requests.RequestException as error:
            reason = type(error).__name__
        print(f"fuzz auth: token fetch {attempt}/{ATTEMPTS} failed: {reason}", file=sys.stderr)
        if attempt < ATTEMPTS:
            time.sleep(attempt)
    raise RuntimeError(f"the fuzzing admin could not sign in ({reason})")


@schemathesis.auth(refresh_interval=2)
class GatehouseBearer:
    def get(self, case, context):
        return fetch_token()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
