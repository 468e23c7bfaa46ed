// Reads the query API (/queries/...) on the page's own origin and normalises its bodies.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function describeFailure(response) {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      // application/problem+json: {"title", "detail", "status"}
      const problem = await response.json();
      const parts = [problem?.title, problem?.detail].filter(
        (part) => typeof part === "string" && part !== "",
      );
      if (parts.length > 0) return `HTTP ${response.status}: ${parts.join(": ")}`;
    } catch {
      // fall through to the status line
    }
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

/**
 * GET a JSON document from the page's origin.
 *
 * cache: "no-cache" makes the browser revalidate every time (If-None-Match with the
 * snapshot ETag): an unchanged snapshot costs a 304, a new one is always seen.
 * Throws ApiError with a readable message; an aborted request rethrows the AbortError.
 */
export async function getJson(path, signal) {
  let response;
  try {
    response = await fetch(path, {
      cache: "no-cache",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal,
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("the query API did not answer", 0);
  }
  if (!response.ok) throw new ApiError(await describeFailure(response), response.status);
  try {
    return await response.json();
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(`${path} did not answer with JSON`, response.status);
  }
}

function text(value) {
  return typeof value === "string" ? value : value == null ? "" : String(value);
}

function searchKey(...parts) {
  return parts.join("\n").normalize("NFC").toLocaleLowerCase();
}

/**
 * Shape GET /queries/countries into [{name, users: [{name, gender, email, key}]}].
 * Tolerant: anything that is not the documented shape is skipped or coerced to text.
 */
export function normaliseCountries(body) {
  const countries = Array.isArray(body?.countries) ? body.countries : [];
  return countries
    .filter((country) => country !== null && typeof country === "object")
    .map((country) => {
      const users = Array.isArray(country.users) ? country.users : [];
      return {
        name: text(country.name),
        users: users
          .filter((user) => user !== null && typeof user === "object")
          .map((user) => {
            const name = text(user.name);
            const email = text(user.email);
            return { name, gender: text(user.gender), email, key: searchKey(name, email) };
          }),
      };
    });
}

/** The snapshot metadata of a /queries/... body, or null. */
export function snapshotOf(body) {
  const snapshot = body?.snapshot;
  return snapshot !== null && typeof snapshot === "object" ? snapshot : null;
}

export { searchKey };
