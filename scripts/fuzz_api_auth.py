"""Schemathesis hook for scripts/fuzz-api.sh: signs the fuzzing admin in for a bearer token.

The fuzzer calls logout and token revocation too, which end the token it is using (as they
must), so a fresh access token is fetched every few seconds instead of once.

The fuzzer also learns the admin's email (from `GET /api/v1/admin/users`) and sends it with
made-up passwords; scripts/fuzz-api.sh runs the server with `rate_limit.lockout = false` so
those cannot lock the run out of its own identity.
"""

import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=2)
class GatehouseBearer:
    def get(self, case, context):
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
