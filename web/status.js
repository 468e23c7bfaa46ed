// Sync status: reads GET /queries/sync-status and says when the data was synced,
// whether the last attempt failed (and why), and what ran recently.

import { el, fill, fillIfChanged } from "./dom.js";

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});
const count = new Intl.NumberFormat("en");

// The sync records may name their moment differently depending on how they ended;
// the first field present wins (most specific first).
const TIME_FIELDS = [
  "failed_at",
  "promoted_at",
  "finished_at",
  "completed_at",
  "fetched_at",
  "synced_at",
  "updated_at",
  "at",
  "started_at",
  "first_seen_at",
  "requested_at",
];
const RUNNING_STATES = new Set(["staging", "completed", "running", "started", "requested", "pending"]);

export function parseTime(value) {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function isObject(value) {
  return value !== null && typeof value === "object";
}

/** A field of a sync record, flat or nested under its "failure" / "completion" part. */
function field(record, name) {
  if (!isObject(record)) return undefined;
  if (record[name] !== undefined && record[name] !== null) return record[name];
  for (const part of ["failure", "completion"]) {
    const value = isObject(record[part]) ? record[part][name] : undefined;
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

function recordTime(record) {
  for (const name of TIME_FIELDS) {
    const date = parseTime(field(record, name));
    if (date !== null) return date;
  }
  return null;
}

function stateOf(record) {
  const value = record?.state ?? record?.status ?? "";
  return typeof value === "string" ? value.toLowerCase() : "";
}

function isFailed(record) {
  return stateOf(record) === "failed";
}

function sameSync(a, b) {
  return Boolean(a?.sync_id) && a?.sync_id === b?.sync_id;
}

/** "3 minutes ago", "just now", "yesterday". */
export function timeAgo(date, now = new Date()) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === "minute") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "just now";
}

/** A <time> element showing the absolute moment. */
function stamp(date) {
  return el("time", { datetime: date.toISOString(), text: absolute.format(date) });
}

/** Relative words, with the absolute moment in brackets. */
function when(date, now) {
  return [timeAgo(date, now), " (", stamp(date), ")"];
}

/**
 * Everything the page needs to say about syncing, derived from the status body and the
 * snapshot actually on screen.
 */
export function deriveSync(status, snapshot) {
  const success = status?.last_success ?? null;
  // "recent" is newest first, so its head is the last attempt when none is named.
  const attempt =
    status?.last_attempt ?? (Array.isArray(status?.recent) ? status.recent[0] : null) ?? null;
  const lastFailure = status?.last_failure ?? null;
  const current = snapshot ?? status?.current_snapshot ?? null;
  const syncedAt = parseTime(current?.synced_at) ?? recordTime(success);

  const successAt = recordTime(success);
  const lastFailureAt = recordTime(lastFailure);
  // The last *finished* attempt failed: either the latest attempt is marked failed, or
  // the latest failure is newer than the latest success (a retry may be running now).
  const failure = isFailed(attempt)
    ? sameSync(attempt, lastFailure)
      ? lastFailure
      : attempt
    : lastFailure !== null &&
        !sameSync(lastFailure, success) &&
        (successAt === null || (lastFailureAt !== null && lastFailureAt >= successAt))
      ? lastFailure
      : null;
  const running =
    attempt !== null &&
    RUNNING_STATES.has(stateOf(attempt)) &&
    !sameSync(attempt, success) &&
    !sameSync(attempt, lastFailure);

  return {
    syncedAt,
    snapshotId: typeof current?.id === "string" ? current.id : null,
    statusSnapshotId:
      typeof status?.current_snapshot?.id === "string" ? status.current_snapshot.id : null,
    failed: failure !== null,
    failureAt: recordTime(failure),
    reason: failure === null ? null : String(field(failure, "reason") ?? "no reason given"),
    attempts: Number.isInteger(field(failure, "attempts")) ? field(failure, "attempts") : null,
    running: running ? { startedAt: recordTime(attempt) } : null,
    recent: Array.isArray(status?.recent) ? status.recent.slice(0, 10) : [],
  };
}

/** Fill the always-visible status block. */
export function renderStatus(ui, view, totals, now = new Date()) {
  if (view.syncedAt !== null) {
    fill(ui.syncWhen, el("strong", { text: "Synced " }), ...when(view.syncedAt, now));
  } else if (totals.loaded) {
    fill(ui.syncWhen, el("strong", { text: "Never synced" }));
  } else {
    fill(ui.syncWhen, "Sync status unknown");
  }

  const parts = [];
  if (totals.users > 0) {
    parts.push(
      `${count.format(totals.users)} users in ${count.format(totals.countries)} countries`,
    );
  }
  if (view.running !== null) {
    parts.push(
      view.running.startedAt === null
        ? "a sync is running"
        : `a sync is running (started ${timeAgo(view.running.startedAt, now)})`,
    );
  } else if (view.failed) {
    parts.push(
      view.failureAt === null
        ? "last attempt failed"
        : `last attempt failed ${timeAgo(view.failureAt, now)}`,
    );
  } else if (view.syncedAt !== null) {
    parts.push("last attempt succeeded");
  }
  ui.syncDetail.textContent = parts.join(" · ");
  ui.syncStatus.classList.toggle("is-failed", view.failed);
  ui.syncStatus.classList.toggle("is-unknown", view.syncedAt === null && !view.failed);

  ui.syncHistory.hidden = view.recent.length === 0;
  fill(
    ui.syncHistoryList,
    ...view.recent.map((record) => {
      const state = stateOf(record) || "unknown";
      const at = recordTime(record);
      const users = field(record, "user_count");
      const detail =
        state === "failed"
          ? String(field(record, "reason") ?? "")
          : Number.isInteger(users)
            ? `${count.format(users)} users`
            : "";
      return el(
        "li",
        {},
        el("span", { class: `badge badge-${state.replace(/[^a-z]/g, "")}`, text: state }),
        " ",
        at === null ? "" : stamp(at),
        detail === "" ? "" : ` — ${detail}`,
      );
    }),
  );
}

/**
 * Fill (or hide) the role="alert" warning shown when the last attempt failed. It names
 * absolute times only, so the clock ticking does not make screen readers repeat it.
 */
export function renderWarning(node, view) {
  node.hidden = !view.failed;
  if (!view.failed) {
    fillIfChanged(node, "", () => []);
    return;
  }
  const attempts =
    view.attempts === null ? "" : ` after ${view.attempts} attempt${view.attempts === 1 ? "" : "s"}`;
  const signature = JSON.stringify([
    view.reason,
    view.attempts,
    view.failureAt?.toISOString(),
    view.syncedAt?.toISOString(),
  ]);
  fillIfChanged(node, signature, () => [
    el(
      "p",
      {},
      el("strong", { text: "The last sync failed" }),
      ...(view.failureAt === null ? [] : [" at ", stamp(view.failureAt)]),
      `${attempts}: `,
      el("span", { class: "reason", text: view.reason }),
    ),
    view.syncedAt === null
      ? el("p", { text: "There is no earlier successful sync to show." })
      : el("p", {}, "Still showing the last successful sync, from ", stamp(view.syncedAt), "."),
  ]);
}
