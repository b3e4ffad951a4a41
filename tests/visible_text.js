(root) => {
  // The text a reader sees: text nodes of rendered elements drawn at a size above 0, with what CSS
  // draws in ::before / ::after, leaving out icon ligatures (Material Symbols draw "upload" as an icon).
  const out = [];
  const literal = (c) => (c && c.startsWith('"')) ? JSON.parse(c) : null;
  const walk = (el) => {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') return;
    if (el.matches('[data-testid="stIconMaterial"], [translate="no"], style, script, noscript, template')) return;
    const before = literal(getComputedStyle(el, '::before').content);
    if (before) out.push(before);
    for (const n of el.childNodes) {
      if (n.nodeType === 3) {
        if (parseFloat(cs.fontSize) > 0 && n.textContent.trim()) out.push(n.textContent.trim());
      } else if (n.nodeType === 1) {
        walk(n);
      }
    }
    const after = literal(getComputedStyle(el, '::after').content);
    if (after) out.push(after);
  };
  walk(root || document.body);  // a locator's evaluate passes its element
  return out.join('\n');
}
