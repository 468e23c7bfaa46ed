// DOM helpers: every node is built with createElement(NS) and text nodes, never from markup.
// Values from the upstream (names, emails, countries, failure reasons) only ever become
// text nodes or element properties, so "<img src=x onerror=...>" stays a string.

const SVG_NS = "http://www.w3.org/2000/svg";

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    // Inline styles are refused by the CSP and handlers would run code: never set either.
    if (key === "style" || key.toLowerCase().startsWith("on")) {
      throw new Error(`refusing to set the ${key} attribute`);
    }
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function addChildren(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    // append() turns strings into text nodes: never parsed as markup.
    node.append(typeof child === "number" ? String(child) : child);
  }
}

/** An HTML element: el("td", {class: "name", dir: "auto"}, "text", otherNode). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  addChildren(node, children);
  return node;
}

/** An SVG element, same calling convention as el(). */
export function svg(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, props);
  addChildren(node, children);
  return node;
}

/** The element with this id; throws early if index.html and app.js disagree. */
export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`index.html has no element #${id}`);
  return node;
}

/** Replace the children of node with the given nodes/strings in one DOM update. */
export function fill(node, ...children) {
  const fragment = document.createDocumentFragment();
  addChildren(fragment, children);
  node.replaceChildren(fragment);
}

/**
 * fill(), but only when `signature` differs from what the node shows now. A role="alert"
 * region is announced again on every change, so unchanged news must not be rebuilt.
 */
export function fillIfChanged(node, signature, build) {
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  fill(node, ...build());
}
