// Small DOM helpers for the page's panels.

/** An element with attributes (booleans set or left out) and children (nodes or text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === undefined || v === null) continue;
    if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
    if (k === 'checked' || k === 'disabled') node[k] = Boolean(v);
  }
  node.append(...children);
  return node;
}

/** A number shortly: integers as they are, others with 4 significant digits. */
export function formatNumber(v) {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** Add a panel to its section keeping the panels in PV name order. */
export function appendSorted(parent, card) {
  const pv = card.dataset.pv;
  const after = [...parent.children].find((c) => (c.dataset.pv ?? '') > pv);
  parent.insertBefore(card, after ?? null);
}
