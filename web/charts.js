// Charts as SVG built node by node: users per country (horizontal bars) and the gender
// split of the selected country. Each chart carries a text alternative (role="img" with
// an aria-label listing every value); the gender legend is also plain text.

import { el, fill, svg } from "./dom.js";

const count = new Intl.NumberFormat("en");
const percent = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 0 });

const ROW = 22;
const LABEL_WIDTH = 98;
const BAR_START = 104;
const BAR_MAX = 156;
const WIDTH = 300;
const MAX_LABEL_CHARS = 16;

function shorten(text, limit) {
  const chars = Array.from(text);
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join("")}…`;
}

/**
 * Users per country; the selected country's bar is highlighted and a click on a bar
 * selects that country (the select above stays the keyboard way to do it).
 */
export function renderCountryChart(container, countries, selected, onSelect) {
  if (countries.length === 0) {
    fill(container, el("p", { class: "chart-empty", text: "No countries yet." }));
    return;
  }
  const max = Math.max(1, ...countries.map((country) => country.users.length));
  const height = countries.length * ROW + 4;
  const summary = countries
    .map((country) => `${country.name}: ${count.format(country.users.length)}`)
    .join(", ");
  const root = svg("svg", {
    class: "bars",
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-label": `Users per country. ${summary}.`,
  });
  countries.forEach((country, index) => {
    const y = index * ROW + 2;
    const width = Math.max(1, (country.users.length / max) * BAR_MAX);
    const group = svg(
      "g",
      { class: country.name === selected ? "bar is-selected" : "bar" },
      svg("title", { text: `${country.name}: ${count.format(country.users.length)} users` }),
      svg("text", {
        class: "bar-label",
        x: LABEL_WIDTH,
        y: y + ROW / 2,
        "text-anchor": "end",
        "dominant-baseline": "central",
        text: shorten(country.name, MAX_LABEL_CHARS),
      }),
      svg("rect", {
        class: "bar-track",
        x: BAR_START,
        y: y + 3,
        width: BAR_MAX,
        height: ROW - 6,
        rx: 3,
      }),
      svg("rect", {
        class: "bar-fill",
        x: BAR_START,
        y: y + 3,
        width: width.toFixed(1),
        height: ROW - 6,
        rx: 3,
      }),
      svg("text", {
        class: "bar-value",
        x: BAR_START + BAR_MAX + 6,
        y: y + ROW / 2,
        "dominant-baseline": "central",
        text: count.format(country.users.length),
      }),
    );
    group.addEventListener("click", () => onSelect(country.name));
    root.append(group);
  });
  fill(container, root);
}

function genderCounts(users) {
  const counts = new Map();
  for (const user of users) {
    const gender = user.gender === "" ? "unknown" : user.gender;
    counts.set(gender, (counts.get(gender) ?? 0) + 1);
  }
  const known = ["female", "male"];
  const order = (gender) => {
    const index = known.indexOf(gender);
    return index === -1 ? known.length : index;
  };
  return [...counts.entries()].sort(
    ([a], [b]) => order(a) - order(b) || a.localeCompare(b),
  );
}

function genderClass(gender) {
  return gender === "female" || gender === "male" ? `g-${gender}` : "g-other";
}

/** A 100 % stacked bar of the selected country's genders, with a text legend. */
export function renderGenderChart(container, legend, caption, country) {
  if (country === null || country.users.length === 0) {
    caption.textContent = "Gender split";
    fill(container, el("p", { class: "chart-empty", text: "No users selected." }));
    legend.replaceChildren();
    return;
  }
  caption.textContent = `Gender split in ${country.name}`;
  const total = country.users.length;
  const entries = genderCounts(country.users);
  const summary = entries
    .map(([gender, n]) => `${gender} ${count.format(n)} (${percent.format(n / total)})`)
    .join(", ");
  const root = svg("svg", {
    class: "stack",
    viewBox: "0 0 100 10",
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": `Gender split in ${country.name}: ${summary}.`,
  });
  let x = 0;
  for (const [gender, n] of entries) {
    const width = (n / total) * 100;
    root.append(
      svg(
        "rect",
        { class: genderClass(gender), x: x.toFixed(3), y: 0, width: width.toFixed(3), height: 10 },
        svg("title", { text: `${gender}: ${count.format(n)}` }),
      ),
    );
    x += width;
  }
  fill(container, root);
  fill(
    legend,
    ...entries.map(([gender, n]) =>
      el(
        "li",
        {},
        el("span", { class: `swatch ${genderClass(gender)}`, "aria-hidden": "true" }),
        el("span", { class: "legend-name", text: gender }),
        el("span", {
          class: "legend-value",
          text: `${count.format(n)} · ${percent.format(n / total)}`,
        }),
      ),
    ),
  );
}
