// Uses TypeScript clients generated from both BFFs' documents against the
// running BFFs (scripts/client-checks type-checks this with `tsc --strict`,
// then runs it under Node): types from openapi-typescript, calls through
// openapi-fetch. The same checks as check_client.py: a complete and a
// partial screen, and 404 / 401 problems parsed as the one `Problem` type
// and told apart by `code`, a `ProblemCode` union the compiler checks each
// `case` against.
//
// Environment: MOBILE_URL, WEB_URL, CONTROL_URL, and TOKEN_MOBILE_FULL,
// TOKEN_MOBILE_PARTIAL, TOKEN_WEB_FULL, TOKEN_WEB_PARTIAL (users not asked
// for before, so that no cached section hides the fault).

import createClient from "openapi-fetch";
import type { components as Mobile, paths as MobilePaths } from "./generated/mobile.js";
import type { components as Web, paths as WebPaths } from "./generated/web.js";

type Problem = Mobile["schemas"]["Problem"];
type ProblemCode = Mobile["schemas"]["ProblemCode"];
type Degraded = Mobile["schemas"]["Degraded"];

// Both documents share the one problem schema, to the letter.
const sameProblem: Web["schemas"]["Problem"] extends Problem
  ? Problem extends Web["schemas"]["Problem"]
    ? true
    : false
  : false = true;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

const control = env("CONTROL_URL");

function bearer(token: string) {
  return { headers: { Authorization: `Bearer ${token}` } };
}

/** Runs `during` while every call to notifications fails with a 500. */
async function withNotificationsFailing<T>(during: () => Promise<T>): Promise<T> {
  const fault = await fetch(`${control}/faults/notifications`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ error_rate: 1.0, error_status: 500 }),
  });
  check(fault.ok, `setting the fault: ${fault.status}`);
  try {
    return await during();
  } finally {
    await fetch(`${control}/faults`, { method: "DELETE" });
  }
}

/** The code of a problem; the compiler checks each case is a `ProblemCode`. */
function codeOf(problem: Problem, response: Response, status: number): ProblemCode | "unexpected" {
  check(response.status === status, `expected ${status}, got ${response.status}`);
  check(problem.status === status, `problem.status ${problem.status}`);
  check(problem.request_id === response.headers.get("x-request-id"), "request_id is not X-Request-Id");
  switch (problem.code) {
    case "not_found":
    case "unauthorized":
    case "invalid_token":
      return problem.code;
    default:
      return "unexpected";
  }
}

function checkPartial(meta: Mobile["schemas"]["Meta"], response: Response, section: string) {
  check(meta.partial, "meta.partial is not true");
  check(
    meta.degraded.some((d: Degraded) => d.section === section),
    `${section} not in meta.degraded: ${JSON.stringify(meta.degraded)}`,
  );
  check(response.headers.get("x-partial-response") === "true", "no X-Partial-Response: true");
}

async function mobile(): Promise<void> {
  const client = createClient<MobilePaths>({ baseUrl: env("MOBILE_URL") });

  const full = await client.GET("/v1/home", bearer(env("TOKEN_MOBILE_FULL")));
  check(full.data !== undefined, `full home: ${full.response.status} ${JSON.stringify(full.error)}`);
  check(!full.data.meta.partial && full.data.meta.degraded.length === 0, "full home is partial");
  check(full.data.unread_notifications !== null, "unread_notifications is null on a full answer");
  check(!full.response.headers.has("x-partial-response"), "X-Partial-Response on a full answer");

  const partial = await withNotificationsFailing(() =>
    client.GET("/v1/home", bearer(env("TOKEN_MOBILE_PARTIAL"))),
  );
  check(partial.data !== undefined, `partial home: ${partial.response.status}`);
  checkPartial(partial.data.meta, partial.response, "unread_notifications");
  check(partial.data.unread_notifications === null, "unread_notifications is not null");
  check(partial.data.user !== null, "user is null although users answered");

  const unknown = await client.GET("/v1/products/{id}", { params: { path: { id: "p-no-such-product" } } });
  check(unknown.error !== undefined, "an unknown product answered");
  check(codeOf(unknown.error, unknown.response, 404) === "not_found", "not not_found");

  const noToken = await client.GET("/v1/home");
  check(noToken.error !== undefined, "no token answered");
  check(codeOf(noToken.error, noToken.response, 401) === "unauthorized", "not unauthorized");

  const badToken = await client.GET("/v1/home", bearer("not-a-jwt"));
  check(badToken.error !== undefined, "a bad token answered");
  check(codeOf(badToken.error, badToken.response, 401) === "invalid_token", "not invalid_token");
}

async function web(): Promise<void> {
  const client = createClient<WebPaths>({ baseUrl: env("WEB_URL") });

  const full = await client.GET("/v1/dashboard", bearer(env("TOKEN_WEB_FULL")));
  check(full.data !== undefined, `full dashboard: ${full.response.status} ${JSON.stringify(full.error)}`);
  check(!full.data.meta.partial && full.data.meta.degraded.length === 0, "full dashboard is partial");
  check(full.data.notifications !== null, "notifications is null on a full answer");
  check(!full.response.headers.has("x-partial-response"), "X-Partial-Response on a full answer");

  const partial = await withNotificationsFailing(() =>
    client.GET("/v1/dashboard", bearer(env("TOKEN_WEB_PARTIAL"))),
  );
  check(partial.data !== undefined, `partial dashboard: ${partial.response.status}`);
  checkPartial(partial.data.meta, partial.response, "notifications");
  check(partial.data.notifications === null, "notifications is not null");
  check(partial.data.user !== null, "user is null although users answered");

  const unknown = await client.GET("/v1/products/{id}", { params: { path: { id: "p-no-such-product" } } });
  check(unknown.error !== undefined, "an unknown product answered");
  check(codeOf(unknown.error, unknown.response, 404) === "not_found", "not not_found");

  const noToken = await client.GET("/v1/dashboard");
  check(noToken.error !== undefined, "no token answered");
  check(codeOf(noToken.error, noToken.response, 401) === "unauthorized", "not unauthorized");

  const badToken = await client.GET("/v1/dashboard", bearer("not-a-jwt"));
  check(badToken.error !== undefined, "a bad token answered");
  check(codeOf(badToken.error, badToken.response, 401) === "invalid_token", "not invalid_token");
}

try {
  check(sameProblem, "the documents' Problem types differ");
  await mobile();
  console.log("typescript client of bff-mobile: full and partial home; 404 not_found, 401 unauthorized and invalid_token as Problem");
  await web();
  console.log("typescript client of bff-web: full and partial dashboard; 404 not_found, 401 unauthorized and invalid_token as Problem");
} catch (failure) {
  console.error(`typescript client check failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  process.exit(1);
}
