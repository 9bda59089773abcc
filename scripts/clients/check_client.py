"""Uses the Python client openapi-python-client generated from one BFF's
document against that BFF, running (scripts/client-checks runs this).

    python check_client.py mobile|web

Environment: BFF_URL, CONTROL_URL (the simulator's control API), TOKEN_FULL
and TOKEN_PARTIAL (JWTs of two users not asked for before, so that no cached
section hides the fault). Checks, all through the generated client:

- the models have one problem class (`Problem`, `code` a `ProblemCode`), not
  one per status per operation;
- a complete screen (home or dashboard): 200, every section filled,
  `meta.partial` false, no `X-Partial-Response`;
- a partial screen after failing notifications through the simulator's
  `PUT /faults/notifications`: still 200, that section null and listed in
  `meta.degraded`, `X-Partial-Response: true`;
- an unknown product: 404 `not_found`; no token and a bad token: 401
  `unauthorized` and `invalid_token`; each parsed into `Problem` and told
  apart by `code` alone.

Exit 0 when every check holds; otherwise the first failed check is printed.
"""

import importlib
import os
import pkgutil
import re
import sys

import httpx

SCREENS = {
    # BFF: (tag module, operation module, model, the section notifications fill)
    "mobile": ("home", "get_home", "Home", "unread_notifications"),
    "web": ("dashboard", "get_dashboard", "Dashboard", "notifications"),
}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    bff = sys.argv[1]
    package = f"bff_{bff}_client"
    tag, operation, model_name, notifications = SCREENS[bff]
    base, control = os.environ["BFF_URL"], os.environ["CONTROL_URL"]

    client_mod = importlib.import_module(package)
    models = importlib.import_module(f"{package}.models")
    screen = importlib.import_module(f"{package}.api.{tag}.{operation}")
    get_product = importlib.import_module(f"{package}.api.products.get_product")
    Problem, ProblemCode = models.Problem, models.ProblemCode
    Screen = getattr(models, model_name)

    # One problem class for every error response of every operation.
    modules = [m.name for m in pkgutil.iter_modules(models.__path__)]
    problem_models = sorted(m for m in modules if "problem" in m)
    check(problem_models == ["problem", "problem_code"], f"problem models: {problem_models}")
    per_status = [m for m in modules if re.search(r"response_[45]\d\d", m)]
    check(not per_status, f"models per error status: {per_status}")
    check(
        {c.value for c in ProblemCode} >= {"not_found", "unauthorized", "invalid_token"},
        "ProblemCode lacks a code",
    )

    def authed(token):
        return client_mod.AuthenticatedClient(base_url=base, token=token, timeout=httpx.Timeout(10.0))

    anonymous = client_mod.Client(base_url=base, timeout=httpx.Timeout(10.0))

    # A complete screen.
    full = screen.sync_detailed(client=authed(os.environ["TOKEN_FULL"]))
    check(full.status_code == 200, f"full {operation}: {full.status_code} {full.content[:300]!r}")
    page = full.parsed
    check(isinstance(page, Screen), f"full {operation} parsed as {type(page).__name__}")
    check(page.meta.partial is False and page.meta.degraded == [], f"full {operation} is partial: {page.meta}")
    check(getattr(page, notifications) is not None, f"{notifications} is null on a full answer")
    check("x-partial-response" not in full.headers, "X-Partial-Response on a full answer")

    # A partial screen: notifications fail, the rest answers.
    fault = httpx.put(f"{control}/faults/notifications", json={"error_rate": 1.0, "error_status": 500}, timeout=10)
    check(fault.status_code < 300, f"setting the fault: {fault.status_code} {fault.text}")
    try:
        partial = screen.sync_detailed(client=authed(os.environ["TOKEN_PARTIAL"]))
    finally:
        httpx.delete(f"{control}/faults", timeout=10)
    check(partial.status_code == 200, f"partial {operation}: {partial.status_code} {partial.content[:300]!r}")
    page = partial.parsed
    check(isinstance(page, Screen), f"partial {operation} parsed as {type(page).__name__}")
    check(page.meta.partial is True, "meta.partial is not true")
    degraded = {d.section: d.reason.value for d in page.meta.degraded}
    check(notifications in degraded, f"{notifications} not in meta.degraded: {degraded}")
    check(getattr(page, notifications) is None, f"{notifications} is not null on a partial answer")
    check(page.user is not None, "user is null although users answered")
    check(partial.headers.get("x-partial-response") == "true", "no X-Partial-Response: true")

    # Problems: one class, told apart by `code`.
    def code_of(response, status):
        check(response.status_code == status, f"expected {status}, got {response.status_code}")
        problem = response.parsed
        check(isinstance(problem, Problem), f"a {status} parsed as {type(problem).__name__}")
        check(problem.status == status, f"problem.status {problem.status}")
        check(problem.request_id == response.headers.get("x-request-id"), "request_id is not X-Request-Id")
        match problem:
            case Problem(code=ProblemCode.NOT_FOUND):
                return "not_found"
            case Problem(code=ProblemCode.UNAUTHORIZED):
                return "unauthorized"
            case Problem(code=ProblemCode.INVALID_TOKEN):
                return "invalid_token"
            case Problem(code=other):
                return f"unexpected {other}"

    unknown = get_product.sync_detailed(id="p-no-such-product", client=anonymous)
    check(code_of(unknown, 404) == "not_found", "an unknown product is not not_found")
    # No token at all: the generated signature asks for an AuthenticatedClient,
    # which always sends one; the plain Client (no Authorization) stands in.
    no_token = screen.sync_detailed(client=anonymous)
    check(code_of(no_token, 401) == "unauthorized", "no token is not unauthorized")
    bad_token = screen.sync_detailed(client=authed("not-a-jwt"))
    check(code_of(bad_token, 401) == "invalid_token", "a bad token is not invalid_token")

    print(
        f"python client of bff-{bff}: one problem model; full and partial {operation}; "
        "404 not_found, 401 unauthorized and invalid_token as Problem"
    )


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"python client check failed: {failure}", file=sys.stderr)
        sys.exit(1)
