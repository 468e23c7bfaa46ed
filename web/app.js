// Operator dashboard: wires the controls to the query API and renders the page.
//
// Data flow: GET /queries/countries (one consistent snapshot, revalidated by ETag) and
// GET /queries/sync-status, fetched again when /queries/events (live.js) announces a
// new snapshot or a sync's start, failure or completion; polled while the stream is
// down. The history panel (history.js) lists the kept snapshots and what changed in
// the selected country. Users are paged and filtered in the browser: the whole
// snapshot is a single cacheable document (~50 kB gzip for 5,000 users), paging it
// locally keeps every page of one country from the same snapshot, and only one page of
// rows is ever in the DOM, so 5,000 users stay smooth.

import { ApiError, getJson, normaliseCountries, searchKey, snapshotOf } from "./api.js";
import { renderCountryChart, renderGenderChart } from "./charts.js";
import { byId, el, fill, fillIfChanged } from "./dom.js";
import { showCountry, showSnapshot, showStatus } from "./history.js";
import { subscribe } from "./live.js";
import { deriveSync, renderStatus, renderWarning } from "./status.js";

const STATUS_POLL_MS = 30_000;
const STATUS_POLL_OFFLINE_MS = 5_000;
const CLOCK_TICK_MS = 15_000;
const count = new Intl.NumberFormat("en");
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

const ui = {
  country: byId("country"),
  filter: byId("filter"),
  reload: byId("reload"),
  users: byId("users"),
  usersHeading: byId("users-heading"),
  usersCaption: byId("users-caption"),
  noMatch: byId("no-match"),
  prev: byId("prev"),
  next: byId("next"),
  range: byId("range"),
  pageSize: byId("page-size"),
  content: byId("content"),
  emptyState: byId("empty-state"),
  syncUrl: byId("sync-url"),
  apiError: byId("api-error"),
  syncWarning: byId("sync-warning"),
  updateAvailable: byId("update-available"),
  showUpdate: byId("show-update"),
  syncStatus: byId("sync-status"),
  syncWhen: byId("sync-when"),
  syncDetail: byId("sync-detail"),
  syncHistory: byId("sync-history"),
  syncHistoryList: byId("sync-history-list"),
  genderChart: byId("gender-chart"),
  genderLegend: byId("gender-legend"),
  genderCaption: byId("gender-caption"),
  countryChart: byId("country-chart"),
  liveState: byId("live-state"),
};

const state = {
  loaded: false, // /queries/countries answered at least once
  countries: [],
  snapshot: null,
  status: null,
  selected: null,
  filterText: "",
  filterKey: "",
  page: 1,
  pageSize: 50,
  errors: { countries: null, status: null },
  dataLoadedAt: null,
  live: "connecting", // live | reconnecting | polling
  lastPoll: 0,
};

let inflight = null;

function selectedCountry() {
  return state.countries.find((country) => country.name === state.selected) ?? null;
}

function countryFromHash() {
  return new URLSearchParams(window.location.hash.slice(1)).get("country");
}

function rememberCountry(name) {
  const url = name ? `#${new URLSearchParams({ country: name })}` : window.location.pathname;
  window.history.replaceState(null, "", url);
}

function describe(error) {
  return error instanceof ApiError ? error.message : String(error?.message ?? error);
}

// ---- loading -----------------------------------------------------------------------

function applyCountries(body) {
  const previousId = state.snapshot?.id ?? null;
  state.countries = normaliseCountries(body);
  state.snapshot = snapshotOf(body);
  state.loaded = true;
  state.dataLoadedAt = new Date();
  const names = new Set(state.countries.map((country) => country.name));
  if (!names.has(state.selected)) {
    const wanted = countryFromHash();
    state.selected = names.has(wanted) ? wanted : (state.countries[0]?.name ?? null);
    state.page = 1;
  } else if ((state.snapshot?.id ?? null) !== previousId) {
    state.page = 1;
  }
}

/** Re-fetch everything (Reload, first load, "Show it"). Never clears what is shown. */
async function loadAll() {
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  ui.reload.classList.add("is-loading");
  ui.reload.setAttribute("aria-busy", "true");
  const [countries, status] = await Promise.allSettled([
    getJson("/queries/countries", controller.signal),
    getJson("/queries/sync-status", controller.signal),
  ]);
  if (controller.signal.aborted) return;
  inflight = null;
  ui.reload.classList.remove("is-loading");
  ui.reload.removeAttribute("aria-busy");

  if (countries.status === "fulfilled") {
    applyCountries(countries.value);
    state.errors.countries = null;
  } else {
    state.errors.countries = `Could not load the users (${describe(countries.reason)}).`;
  }
  if (status.status === "fulfilled") {
    state.status = status.value;
    state.errors.status = null;
  } else {
    state.errors.status = `Could not load the sync status (${describe(status.reason)}).`;
  }
  renderAll();
  updateHistory();
}

let historyFor = null; // the snapshot the history panel compares against

function updateHistory() {
  if (state.status !== null) showStatus(state.status);
  const shown = state.snapshot?.id ?? null;
  if (shown === null || shown === historyFor) return;
  historyFor = shown;
  showSnapshot(shown, state.selected);
}

/** Fetch the sync status only: never swaps the data under the operator. */
async function refreshStatus() {
  if (inflight !== null || document.visibilityState !== "visible") return;
  state.lastPoll = Date.now();
  try {
    state.status = await getJson("/queries/sync-status");
    state.errors.status = null;
  } catch (error) {
    state.errors.status = `Could not load the sync status (${describe(error)}).`;
  }
  const serverSnapshot = state.status?.current_snapshot?.id ?? null;
  const shown = state.snapshot?.id ?? null;
  if (state.loaded && serverSnapshot !== null && serverSnapshot !== shown) {
    // A newer snapshot: show it, keeping the selected country.
    await loadAll();
    return;
  }
  renderStatusArea();
  updateHistory();
}

// ---- live updates ------------------------------------------------------------------

const LIVE_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Not live: checking every few seconds",
};

function setLive(name) {
  state.live = name;
  ui.liveState.textContent = LIVE_LABELS[name];
  ui.liveState.dataset.state = name;
}

const SNAPSHOT_RETRY_MS = 300;
const SNAPSHOT_TRIES = 5;
let wanted = null; // the snapshot an event announced and the page has not loaded yet

/** A promoted snapshot: load it, keeping the selected country. The answer may still
 * be the previous snapshot for a moment (a replica that has not switched yet): then
 * try again shortly, a few times. */
function onSnapshot(data) {
  if (!data?.id || data.id === state.snapshot?.id) return;
  wanted = { id: data.id, tries: 0 };
  loadWanted();
}

async function loadWanted() {
  await loadAll();
  if (wanted === null || state.snapshot?.id === wanted.id || wanted.tries >= SNAPSHOT_TRIES) {
    wanted = null;
    return;
  }
  wanted.tries += 1;
  window.setTimeout(loadWanted, SNAPSHOT_RETRY_MS);
}

function onSync() {
  refreshStatus();
}

/** While the stream is down, poll the status often (it shows a new snapshot too). */
function poll() {
  const every = state.live === "live" ? STATUS_POLL_MS : STATUS_POLL_OFFLINE_MS;
  if (Date.now() - state.lastPoll >= every) refreshStatus();
}

// ---- rendering ---------------------------------------------------------------------

function renderStatusArea() {
  const view = deriveSync(state.status, state.snapshot);
  const users = state.countries.reduce((sum, country) => sum + country.users.length, 0);
  renderStatus(ui, view, { loaded: state.loaded, users, countries: state.countries.length });
  renderWarning(ui.syncWarning, view);

  const errors = [state.errors.countries, state.errors.status].filter(Boolean);
  ui.apiError.hidden = errors.length === 0;
  if (errors.length > 0) {
    const since =
      state.dataLoadedAt === null
        ? "Press Reload to try again."
        : `Still showing the data loaded at ${clock.format(state.dataLoadedAt)}. Press Reload to try again.`;
    fillIfChanged(ui.apiError, JSON.stringify([errors, since]), () => [
      el("p", {}, el("strong", { text: "The query API is not answering. " }), errors.join(" ")),
      el("p", { text: since }),
    ]);
  } else {
    fillIfChanged(ui.apiError, "", () => []);
  }

  const shownId = state.snapshot?.id ?? null;
  ui.updateAvailable.hidden = !(
    state.countries.length > 0 &&
    view.statusSnapshotId !== null &&
    shownId !== null &&
    view.statusSnapshotId !== shownId
  );
}

function renderCountrySelect() {
  const options = state.countries.map((country) =>
    el("option", {
      value: country.name,
      text: `${country.name} (${count.format(country.users.length)})`,
    }),
  );
  if (options.length === 0) {
    options.push(el("option", { value: "", text: state.loaded ? "No countries yet" : "Loading…" }));
  }
  fill(ui.country, ...options);
  ui.country.disabled = state.countries.length === 0;
  ui.country.value = state.selected ?? "";
}

function genderClass(gender) {
  return gender === "female" || gender === "male" ? `gender-${gender}` : "gender-other";
}

function userRow(user) {
  return el(
    "tr",
    {},
    // dir="auto": a Persian (RTL) name is laid out right to left inside its cell.
    el("td", { class: "col-name", dir: "auto", text: user.name }),
    el("td", { class: `col-gender ${genderClass(user.gender)}`, text: user.gender }),
    // E-mail addresses read left to right whatever script surrounds them.
    el("td", { class: "col-email", dir: "ltr", text: user.email }),
  );
}

function renderUsers() {
  // Read focus first: once a focused button is disabled, focus has already fallen to <body>.
  const focused = document.activeElement;
  const country = selectedCountry();
  const all = country?.users ?? [];
  const matches = state.filterKey ? all.filter((user) => user.key.includes(state.filterKey)) : all;
  const pages = Math.max(1, Math.ceil(matches.length / state.pageSize));
  state.page = Math.min(Math.max(1, state.page), pages);
  const start = (state.page - 1) * state.pageSize;
  const rows = matches.slice(start, start + state.pageSize);

  fill(ui.users.tBodies[0], ...rows.map(userRow));
  ui.usersHeading.textContent = country ? `Users in ${country.name}` : "Users";
  ui.usersCaption.textContent = country
    ? `Users in ${country.name}, page ${state.page} of ${pages}`
    : "Users";
  ui.noMatch.hidden = !(all.length > 0 && matches.length === 0);

  let range =
    matches.length === 0
      ? "Showing 0 of 0"
      : `Showing ${count.format(start + 1)}–${count.format(start + rows.length)} of ${count.format(matches.length)}`;
  if (state.filterKey && country) {
    range += ` matching “${state.filterText}” (${count.format(all.length)} in ${country.name})`;
  }
  ui.range.textContent = range;

  const prevDisabled = state.page <= 1;
  const nextDisabled = state.page >= pages;
  ui.prev.disabled = prevDisabled;
  ui.next.disabled = nextDisabled;
  // Paging to the first or last page disables the pressed button: hand focus to its twin.
  if (focused === ui.next && nextDisabled && !prevDisabled) ui.prev.focus();
  if (focused === ui.prev && prevDisabled && !nextDisabled) ui.next.focus();
}

function renderCharts() {
  renderGenderChart(ui.genderChart, ui.genderLegend, ui.genderCaption, selectedCountry());
  renderCountryChart(ui.countryChart, state.countries, state.selected, selectCountry);
}

function renderAll() {
  const empty = state.loaded && state.countries.length === 0;
  ui.emptyState.hidden = !empty;
  ui.content.hidden = !state.loaded || empty;
  renderStatusArea();
  renderCountrySelect();
  renderUsers();
  renderCharts();
}

// ---- interaction -------------------------------------------------------------------

function selectCountry(name) {
  if (name === state.selected) return;
  state.selected = name;
  state.page = 1;
  rememberCountry(name);
  ui.country.value = name;
  renderUsers();
  renderCharts();
  showCountry(name);
}

function setFilter(text) {
  state.filterText = text.trim();
  state.filterKey = searchKey(state.filterText);
  state.page = 1;
  renderUsers();
}

function turnPage(delta) {
  state.page += delta;
  renderUsers();
}

function start() {
  // Phones get shorter pages so the charts below the table stay within reach.
  if (window.matchMedia("(max-width: 640px)").matches) ui.pageSize.value = "25";
  state.pageSize = Number(ui.pageSize.value) || 50;
  ui.syncUrl.textContent = new URL("/commands/sync", window.location.origin).href;
  ui.country.addEventListener("change", () => selectCountry(ui.country.value));
  ui.filter.addEventListener("input", () => setFilter(ui.filter.value));
  ui.prev.addEventListener("click", () => turnPage(-1));
  ui.next.addEventListener("click", () => turnPage(1));
  ui.pageSize.addEventListener("change", () => {
    const first = (state.page - 1) * state.pageSize;
    state.pageSize = Number(ui.pageSize.value) || 50;
    state.page = Math.floor(first / state.pageSize) + 1;
    renderUsers();
  });
  ui.reload.addEventListener("click", () => loadAll());
  ui.showUpdate.addEventListener("click", () => loadAll());
  window.addEventListener("hashchange", () => {
    const wanted = countryFromHash();
    if (wanted !== null && state.countries.some((country) => country.name === wanted)) {
      selectCountry(wanted);
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshStatus();
  });
  window.setInterval(poll, STATUS_POLL_OFFLINE_MS);
  subscribe({ snapshot: onSnapshot, sync: onSync, state: setLive });
  window.setInterval(renderStatusArea, CLOCK_TICK_MS);
  state.filterText = ui.filter.value.trim();
  state.filterKey = searchKey(state.filterText);
  loadAll();
}

start();
