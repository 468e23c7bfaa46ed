// Snapshot history panel: the kept snapshots (GET /queries/snapshots) with the failed
// sync attempts between them, and what changed in the selected country against an
// earlier snapshot (GET /queries/snapshots/{id}/diff?from=...&country=...).
// Kept snapshots never change, so a diff once loaded is reused.

import { ApiError, getJson } from "./api.js";
import { byId, el, fill } from "./dom.js";

const LISTED = 20;
const SHOWN_USERS = 100;
const count = new Intl.NumberFormat("en");
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

const ui = {
  panel: byId("history"),
  list: byId("history-list"),
  compare: byId("compare-with"),
  summary: byId("changes-summary"),
  lists: byId("changes-lists"),
};

const state = {
  current: null, // the snapshot the page shows
  country: null,
  snapshots: [],
  failures: [],
  compareWith: null,
  diffs: new Map(), // "from|to|country" -> diff body
};

function describe(error) {
  return error instanceof ApiError ? error.message : String(error?.message ?? error);
}

function label(snapshot) {
  const users = count.format(snapshot.user_count);
  return `${when.format(new Date(snapshot.synced_at))} · ${users} users`;
}

/** Failed attempts after `snapshot` and before the next newer one (if any). */
function failuresAfter(index) {
  const since = Date.parse(state.snapshots[index].synced_at);
  const newer = index > 0 ? Date.parse(state.snapshots[index - 1].synced_at) : Infinity;
  return state.failures.filter((at) => at > since && at < newer).length;
}

function renderList() {
  ui.panel.hidden = state.snapshots.length === 0;
  fill(
    ui.list,
    ...state.snapshots.map((snapshot, index) => {
      const failed = failuresAfter(index);
      return el(
        "li",
        { class: snapshot.current ? "is-current" : null, "data-id": snapshot.id },
        el("span", { class: "history-when", text: when.format(new Date(snapshot.synced_at)) }),
        ` ${count.format(snapshot.user_count)} users in ${count.format(snapshot.country_count)} countries`,
        snapshot.current ? el("span", { class: "badge", text: "current" }) : null,
        failed > 0
          ? el("span", {
              class: "history-failed",
              text: `then ${failed} failed attempt${failed === 1 ? "" : "s"}`,
            })
          : null,
      );
    }),
  );
  const others = state.snapshots.filter((snapshot) => snapshot.id !== state.current);
  if (!others.some((snapshot) => snapshot.id === state.compareWith)) {
    // By default the snapshot just before the one shown.
    const shown = state.snapshots.findIndex((snapshot) => snapshot.id === state.current);
    state.compareWith = (state.snapshots[shown + 1] ?? others[0])?.id ?? null;
  }
  fill(
    ui.compare,
    ...(others.length === 0
      ? [el("option", { value: "", text: "No earlier snapshot" })]
      : others.map((snapshot) => el("option", { value: snapshot.id, text: label(snapshot) }))),
  );
  ui.compare.disabled = others.length === 0;
  ui.compare.value = state.compareWith ?? "";
}

function userItems(users, describeUser) {
  const items = users.slice(0, SHOWN_USERS).map((user) => el("li", {}, ...describeUser(user)));
  if (users.length > SHOWN_USERS) {
    items.push(el("li", { text: `and ${count.format(users.length - SHOWN_USERS)} more` }));
  }
  return items;
}

function person(user) {
  return [el("bdi", { text: user.name }), " ", el("span", { dir: "ltr", text: `<${user.email}>` })];
}

function group(title, users, describeUser) {
  return el(
    "details",
    { class: "changes-group" },
    el("summary", { text: `${title} (${count.format(users.length)})` }),
    el("ul", {}, ...userItems(users, describeUser)),
  );
}

function renderDiff(diff) {
  const country = diff.countries[0];
  const since = when.format(new Date(diff.from.synced_at));
  if (!country) {
    ui.summary.textContent = `No change in ${state.country} since ${since}.`;
    fill(ui.lists);
    return;
  }
  const { added, removed, changed } = country.counts;
  ui.summary.textContent =
    `Since ${since}: ${count.format(added)} added, ${count.format(removed)} removed,` +
    ` ${count.format(changed)} changed in ${state.country}.`;
  fill(
    ui.lists,
    added > 0 ? group("Added", country.added, person) : null,
    removed > 0 ? group("Removed", country.removed, person) : null,
    changed > 0
      ? group("Changed", country.changed, (change) => [
          ...person(change.before),
          " → ",
          ...person(change.after),
        ])
      : null,
  );
}

async function loadDiff() {
  const from = state.compareWith;
  if (state.current === null || state.country === null || from === null) {
    ui.summary.textContent = state.snapshots.length > 1 ? "" : "No earlier snapshot to compare with yet.";
    fill(ui.lists);
    return;
  }
  const key = `${from}|${state.current}|${state.country}`;
  let diff = state.diffs.get(key);
  if (diff === undefined) {
    const query = new URLSearchParams({ from, country: state.country });
    const path = `/queries/snapshots/${encodeURIComponent(state.current)}/diff?${query}`;
    try {
      diff = await getJson(path);
    } catch (error) {
      ui.summary.textContent = `Could not compare the snapshots (${describe(error)}).`;
      fill(ui.lists);
      return;
    }
    state.diffs.set(key, diff);
  }
  if (key === `${state.compareWith}|${state.current}|${state.country}`) renderDiff(diff);
}

/** The page shows another snapshot: list the kept ones again, then the diff. */
export async function showSnapshot(snapshotId, country) {
  state.current = snapshotId;
  state.country = country;
  try {
    const body = await getJson(`/queries/snapshots?size=${LISTED}`);
    state.snapshots = Array.isArray(body?.snapshots) ? body.snapshots : [];
  } catch (error) {
    ui.summary.textContent = `Could not load the snapshot history (${describe(error)}).`;
    return;
  }
  renderList();
  await loadDiff();
}

/** Another country was selected. */
export function showCountry(country) {
  state.country = country;
  loadDiff();
}

/** New sync status: its failed attempts are placed between the snapshots. */
export function showStatus(status) {
  const recent = Array.isArray(status?.recent) ? status.recent : [];
  state.failures = recent
    .filter((attempt) => attempt?.state === "failed" && attempt.failed_at)
    .map((attempt) => Date.parse(attempt.failed_at));
  if (state.snapshots.length > 0) renderList();
}

ui.compare.addEventListener("change", () => {
  state.compareWith = ui.compare.value || null;
  loadDiff();
});
