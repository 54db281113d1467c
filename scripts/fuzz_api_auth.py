"""Schemathesis hook for scripts/fuzz-api.sh: signs the fuzzing admin in for a bearer token.

The fuzzer calls logout and token revocation too, which end the token it is using (as they
must), so a fresh access token is fetched every few seconds instead of once.

The fuzzer also learns the admin's email (from `GET /api/v1/admin/users`) and sends it with
made-up passwords, which pauses the account after 5 failures (the lockout, as it must). Before
each sign-in the hook lifts that pause directly in the database, as an admin's unlock would,
so the run keeps its identity.
"""

import os
import sqlite3

import requests
import schemathesis


@schemathesis.auth(refresh_interval=2)
class GatehouseBearer:
    def get(self, case, context):
        with sqlite3.connect(os.environ["GATEHOUSE_FUZZ_DB"], timeout=10) as db:
            db.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE role = 'admin'"
            )
        answer = requests.post(
            os.environ["GATEHOUSE_FUZZ_URL"] + "/api/v1/auth/token",
            json={
                "email": os.environ["GATEHOUSE_FUZZ_EMAIL"],
                "password": os.environ["GATEHOUSE_FUZZ_PASSWORD"],
            },
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
