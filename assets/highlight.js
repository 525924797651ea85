// Emotion Lens highlights: draws a scored transcript once, then recolours it in the browser
// when the emotion, scale, smoothing or markers change, with no round trip to Python.
// Every piece of text from the transcript goes in through textContent, never innerHTML.
// The same file runs in the app (a Streamlit component) and in exported offline pages.

function elDecodeZ(b64, n) {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  return new Int16Array(bytes.buffer, 0, n);
}

function elSmooth(x, w) {
  // Centred moving average (edges average what exists), as core.probe.smooth.
  if (w <= 1) return x;
  const n = x.length, pad = Math.floor(w / 2), out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0, k = 0;
    for (let t = i - pad; t < i - pad + w; t++) if (t >= 0 && t < n) { s += x[t]; k++; }
    out[i] = s / k;
  }
  return out;
}

function elColour(v) {
  // As core.render.color: red above zero, blue below, alpha grows with |v|.
  v = Math.max(-1, Math.min(1, isNaN(v) ? 0 : v));
  const rgb = v >= 0 ? "178,24,43" : "33,102,172";
  return `rgba(${rgb},${(Math.abs(v) * 0.85).toFixed(3)})`;
}

function elInk(v) {
  // As core.render.ink: black or white text, whichever contrasts more with the token's colour.
  v = Math.max(-1, Math.min(1, isNaN(v) ? 0 : v));
  const a = Math.abs(v) * 0.85, rgb = v >= 0 ? [178, 24, 43] : [33, 102, 172];
  const lin = c => { c = (a * c + (1 - a) * 255) / 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const L = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#000" : "#fff";
}

function elNode(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function elSelect(cls, label, options, value) {
  const wrap = elNode("label", "el-control");
  wrap.appendChild(elNode("span", null, label));
  const s = elNode("select", cls);
  s.setAttribute("aria-label", label);
  for (const [v, t] of options) {
    const o = elNode("option", null, t);
    o.value = String(v);
    s.appendChild(o);
  }
  s.value = String(value);
  wrap.appendChild(s);
  return [wrap, s];
}

function mountHighlights(root, d, onChoice) {
  // onChoice(choice): told when the reader picks another emotion, scale or smoothing (the app
  // hears it so that exports and presentation mode follow the choice).
  window.__emotionLens = window.__emotionLens || {};
  const saved = window.__emotionLens[d.key] || {};
  // A choice made in the browser survives a redraw while the app still asks for what it asked
  // before; when the app asks for something new (another emotion to read back), the app wins.
  const keep = f => d.controls && saved.sent && saved.sent[f] === d.initial[f];
  const st = {
    emotion: keep("emotion") && (d.emotions.includes(saved.emotion) ||
             (d.families && d.families.names.map(n => n + " family").includes(saved.emotion)))
             ? saved.emotion : d.initial.emotion,
    mode: keep("mode") ? saved.mode : d.initial.mode,
    window: keep("window") ? saved.window : d.initial.window,
    markers: keep("markers") ? saved.markers : d.initial.markers,
  };
  const T = d.tokens.length, E = d.emotions.length;
  const z = elDecodeZ(d.z, T * E);
  // NaN: a token no reading reads (a chat marker, the attention sink)
  const zAt = (i, j) => z[i * E + j] === d.missing ? NaN : z[i * E + j] / d.zscale;
  const fams = d.families ? d.families.names : [];
  const famOf = d.families ? d.families.of : [];
  const famLabel = f => `${fams[f]} family`;
  // one column: an emotion's z, or a family's (its strongest member at each token)
  const colAt = (i, choice) => {
    const j = d.emotions.indexOf(choice);
    if (j >= 0) return [zAt(i, j), j];
    const f = fams.indexOf(choice.replace(/ family$/, ""));
    let best = NaN, arg = -1;
    for (let k = 0; k < E; k++) {
      if (famOf[k] !== f) continue;
      const v = zAt(i, k);
      if (!isNaN(v) && (isNaN(best) || v > best)) { best = v; arg = k; }
    }
    return [best, arg];
  };

  root.textContent = "";
  const box = elNode("div", "el-view" + (d.plain ? " el-plain" : ""));
  box.dataset.key = d.key;
  box.style.setProperty("--el-size", d.font_px + "px");
  root.appendChild(box);

  // --- controls ---------------------------------------------------------------------
  const bar = elNode("div", "el-controls");
  const [eWrap, eSel] = elSelect("el-emotion", "Emotion",
    d.emotions.map(e => [e, e]).concat(fams.map((n, f) => [famLabel(f), `${famLabel(f)} (${famOf.filter(x => x === f).length})`])),
    st.emotion);
  const [mWrap, mSel] = elSelect("el-mode", "Colour scale",
    [["transcript", "per transcript (paper)"], ["z", `z, full colour at ±${d.zmax}`]], st.mode);
  const [wWrap, wSel] = elSelect("el-smooth", "Smoothing", [1, 3, 5, 7, 9].map(w => [w, w === 1 ? "none" : `${w} tokens`]), st.window);
  const mark = elNode("label", "el-control");
  const mBox = elNode("input", "el-markers");
  mBox.type = "checkbox";
  mBox.checked = st.markers;
  mark.appendChild(mBox);
  mark.appendChild(elNode("span", null, "chat markers"));
  for (const c of d.plain ? [eWrap, mark] : [eWrap, mWrap, wWrap, mark]) bar.appendChild(c);
  if (d.controls) box.appendChild(bar);

  const legend = elNode("div", "el-legend");
  const ends = [elNode("span", "el-legend-low"), elNode("span", "el-bar"), elNode("span", "el-legend-high")];
  ends.forEach(e => legend.appendChild(e));
  const legendText = elNode("span", "el-legend-text");
  legend.appendChild(legendText);
  box.appendChild(legend);

  // --- the transcript, built once ----------------------------------------------------
  const text = elNode("div", "el-transcript");
  const spans = new Array(T), roles = new Array(T);
  for (const turn of d.turns) {
    let block, head;
    if (turn.role === "system") {
      block = elNode("details", "el-turn system");
      head = elNode("summary", "el-role", `${turn.label} (${turn.end - turn.start} tokens)`);
    } else {
      block = elNode("div", "el-turn " + turn.role);
      head = elNode("span", "el-role", turn.label);
    }
    block.appendChild(head);
    for (let i = turn.start; i < turn.end; i++) {
      const s = elNode("span", i >= turn.lo && i < turn.hi ? "el-tok" : "el-tok el-hdr", d.tokens[i]);
      s.dataset.i = i;
      spans[i] = s;
      roles[i] = turn.role;
      block.appendChild(s);
    }
    text.appendChild(block);
  }
  box.appendChild(text);
  box.appendChild(elNode("div", "el-caption", d.caption));

  // --- hover card ---------------------------------------------------------------------
  const card = elNode("div", "el-card");
  card.hidden = true;
  box.appendChild(card);
  const showCard = (ev) => {
    const s = ev.target.closest ? ev.target.closest(".el-tok") : null;
    if (!s || !box.contains(s)) { card.hidden = true; return; }
    const i = +s.dataset.i;
    card.textContent = "";
    card.appendChild(elNode("div", "el-card-tok", JSON.stringify(d.tokens[i])));
    card.appendChild(elNode("div", "el-card-role", `${roles[i]} · token ${i}`));
    const [v, arg] = colAt(i, st.emotion);
    if (i < d.sink) {
      card.appendChild(elNode("div", null, "first token: an attention sink, not read"));
    } else if (isNaN(v)) {
      card.appendChild(elNode("div", null, "a chat marker: part of the template, not read"));
    } else {
      const sign = x => `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;
      const named = k => fams.length ? `${famLabel(famOf[k])} · ${d.emotions[k]}` : d.emotions[k];
      const row = elNode("div", "el-card-main");
      row.appendChild(elNode("b", null, d.emotions.includes(st.emotion) ? st.emotion : `${st.emotion} · ${d.emotions[arg]}`));
      row.appendChild(elNode("span", null, ` z ${sign(v)}`));
      card.appendChild(row);
      const order = Array.from({length: E}, (_, k) => k).sort((a, b) => zAt(i, b) - zAt(i, a)).slice(0, 5);
      const list = elNode("ol", "el-card-top");
      for (const k of order) {
        const li = elNode("li", null, `${named(k)} ${sign(zAt(i, k))}`);
        li.style.borderLeft = `6px solid ${elColour(zAt(i, k) / d.zmax)}`;
        list.appendChild(li);
      }
      card.appendChild(elNode("div", "el-card-sub", "highest z here"));
      card.appendChild(list);
    }
    const r = s.getBoundingClientRect();
    card.hidden = false;
    const w = card.offsetWidth, h = card.offsetHeight;
    card.style.left = Math.max(4, Math.min(window.innerWidth - w - 4, r.left)) + "px";
    card.style.top = (r.bottom + h + 8 < window.innerHeight ? r.bottom + 6 : r.top - h - 6) + "px";
  };
  text.addEventListener("mouseover", showCard);
  text.addEventListener("mouseleave", () => { card.hidden = true; });

  // --- colouring -----------------------------------------------------------------------
  function values() {
    // as core.render.display_values: unread tokens stay NaN (grey) and out of the smoothing
    const v = new Float64Array(T), read = [];
    for (let i = 0; i < T; i++) {
      const zi = colAt(i, st.emotion)[0];
      v[i] = zi / (st.mode === "z" ? d.zmax : d.scale);
      if (!isNaN(v[i])) read.push(i);
    }
    const body = elSmooth(Float64Array.from(read, i => v[i]), +st.window);
    read.forEach((i, k) => { v[i] = Math.max(-1, Math.min(1, body[k])); });
    return v;
  }
  function draw() {
    const v = values();
    for (let i = 0; i < T; i++) { spans[i].style.background = elColour(v[i]); spans[i].style.color = isNaN(v[i]) ? "" : elInk(v[i]); }
    const scale = d.plain ? "plain" : st.mode;
    ends[0].textContent = d.legend.ends[scale][0];
    ends[2].textContent = d.legend.ends[scale][1];
    legendText.textContent = d.plain ? d.legend.plain.replaceAll("{emotion}", st.emotion)
                                     : `${st.emotion}: ${d.legend[st.mode]}`;
    box.classList.toggle("el-hide-markers", !st.markers);
    window.__emotionLens[d.key] = Object.assign({sent: d.initial}, st);
    box.dataset.emotion = st.emotion;
    box.dataset.mode = st.mode;
    box.dataset.window = st.window;
    box.dataset.drawn = (+(box.dataset.drawn || 0) + 1).toString();
  }
  const chosen = () => { draw(); if (onChoice) onChoice({emotion: st.emotion, mode: st.mode, window: +st.window}); };
  eSel.addEventListener("change", () => { st.emotion = eSel.value; chosen(); });
  mSel.addEventListener("change", () => { st.mode = mSel.value; chosen(); });
  wSel.addEventListener("change", () => { st.window = +wSel.value; chosen(); });
  mBox.addEventListener("change", () => { st.markers = mBox.checked; draw(); });
  draw();
  if (Number.isInteger(d.focus) && spans[d.focus]) {   // opened at a token (the Corpus page's peak)
    const s = spans[d.focus];
    s.classList.add("el-focus");
    const folded = s.closest("details");
    if (folded) folded.open = true;
    s.scrollIntoView({block: "center"});
  }
}

function elSlideKeys(doc) {
  // Presentation mode: a clicker's keys (arrows, PageUp/PageDown, Space) press the app's
  // Previous and Next buttons instead of scrolling. Installed once per page; idle elsewhere.
  if (doc.__elSlideKeys) return;
  doc.__elSlideKeys = true;
  doc.addEventListener("keydown", ev => {
    const next = doc.querySelector(".st-key-next button"), prev = doc.querySelector(".st-key-prev button");
    if (!next || !prev || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;              // keys typed into a text field or a menu stay there
    const typing = t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) ||
                         (t.tagName === "INPUT" && !/^(range|checkbox|radio|button|submit)$/.test(t.type)));
    if (typing) return;
    const forward = ev.key === "ArrowRight" || ev.key === "PageDown" || (ev.key === " " && !ev.shiftKey);
    const back = ev.key === "ArrowLeft" || ev.key === "PageUp" || (ev.key === " " && ev.shiftKey);
    if (!forward && !back) return;
    ev.preventDefault();
    (forward ? next : prev).click();
  });
}
