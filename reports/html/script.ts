/**
 * The page script, as a string (it runs in the browser, not in Node). Plain
 * ES2017, no dependencies. It only ever writes text with textContent and
 * builds elements with createElement: results data never becomes markup.
 * Without it the page still shows every table; it adds the matrix filters,
 * search, the evidence panel and the theme toggle.
 */
export const SCRIPT = String.raw`
(function () {
  'use strict';
  var doc = document;
  var root = doc.documentElement;
  root.classList.add('js');

  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // theme: auto -> light -> dark
  var themeBtn = doc.getElementById('theme');
  if (themeBtn) {
    var themes = ['auto', 'light', 'dark'];
    var current = 0;
    themeBtn.addEventListener('click', function () {
      current = (current + 1) % themes.length;
      if (themes[current] === 'auto') root.removeAttribute('data-theme'); else root.setAttribute('data-theme', themes[current]);
      themeBtn.textContent = 'theme: ' + themes[current];
    });
  }

  var dataEl = doc.getElementById('report-data');
  var data = dataEl ? JSON.parse(dataEl.textContent || '{}') : {};
  var matrix = doc.getElementById('matrix');
  if (!matrix || !data.rows) return;

  // ---- filters and search
  var rows = Array.prototype.slice.call(matrix.querySelectorAll('tr.row'));
  var groups = Array.prototype.slice.call(matrix.querySelectorAll('tbody.grp'));
  var form = doc.getElementById('filters');
  var fVersion = doc.getElementById('f-version');
  var fArea = doc.getElementById('f-area');
  var fStatus = doc.getElementById('f-status');
  var fSearch = doc.getElementById('f-search');
  var count = doc.getElementById('matrix-count');

  function statusOk(tr, s) {
    if (!s) return true;
    var st = (tr.getAttribute('data-st') || '').split(' ');
    if (s === 'differ') return st.filter(function (x) { return x && x !== 'none'; }).length > 1;
    if (s === 'changed') return tr.getAttribute('data-changed') === '1';
    return st.indexOf(s) >= 0;
  }

  function apply() {
    var v = fVersion.value, a = fArea.value, s = fStatus.value, q = fSearch.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (tr) {
      var ok = (!v || tr.getAttribute('data-version') === v)
        && (!a || (' ' + tr.getAttribute('data-areas') + ' ').indexOf(' ' + a + ' ') >= 0)
        && statusOk(tr, s)
        && (!q || (tr.getAttribute('data-search') || '').indexOf(q) >= 0);
      tr.hidden = !ok;
      if (ok) shown++;
    });
    groups.forEach(function (g) { g.hidden = !g.querySelector('tr.row:not([hidden])'); });
    count.textContent = String(shown);
    root.setAttribute('data-filtered', String(shown));
  }
  [fVersion, fArea, fStatus].forEach(function (f) { f.addEventListener('change', apply); });
  fSearch.addEventListener('input', apply);
  form.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
  form.addEventListener('reset', function () { setTimeout(apply, 0); });

  // ---- evidence panel
  var panel = doc.getElementById('panel');
  var panelBody = doc.getElementById('panel-body');
  var lastFocus = null;

  function closePanel() {
    panel.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }
  doc.getElementById('panel-close').addEventListener('click', closePanel);
  doc.addEventListener('keydown', function (e) { if (e.key === 'Escape' && !panel.hidden) closePanel(); });

  function testBlock(ti) {
    var t = data.tests[ti];
    var li = el('li');
    var head = el('div');
    head.appendChild(el('span', 'badge s-' + t.s, t.s));
    head.appendChild(doc.createTextNode(' '));
    head.appendChild(el('strong', null, t.id));
    head.appendChild(el('span', 'muted small', ' · ' + t.ms + ' ms' + (t.st.length ? ' · ' + t.st.join(', ') : '')));
    li.appendChild(head);
    var ev = t.ev ? doc.getElementById(t.ev) : null;
    if (ev) {
      // the server-rendered evidence (reason + decoded trace), cloned
      var clone = ev.cloneNode(true);
      clone.removeAttribute('id');
      clone.open = true;
      clone.classList.add('in-panel');
      var sum = clone.querySelector('summary');
      if (sum) sum.textContent = 'evidence: reason and packet trace';
      li.appendChild(clone);
      var jump = el('a', 'small', 'show in the evidence list');
      jump.href = '#' + t.ev;
      li.appendChild(jump);
    } else if (t.r) {
      li.appendChild(el('pre', null, t.r));
    }
    return li;
  }

  function openPanel(rowIndex, col) {
    var r = data.rows[rowIndex];
    if (!r) return;
    while (panelBody.firstChild) panelBody.removeChild(panelBody.firstChild);
    var h = el('h3');
    h.appendChild(el('span', 'sid', r.id || r.test || ''));
    if (r.level) h.appendChild(el('span', 'lvl', r.level));
    h.appendChild(el('span', 'muted small', '  MQTT ' + r.v));
    panelBody.appendChild(h);
    panelBody.appendChild(el('p', null, r.para));
    if (r.note) panelBody.appendChild(el('p', 'small muted', 'note: ' + r.note));
    var sec = el('p', 'small');
    sec.appendChild(doc.createTextNode('section: '));
    var a = el('a', null, r.sec === 'other' ? r.secTitle : 'MQTT ' + r.v + ' §' + r.sec + ' ' + r.secTitle);
    a.href = '#' + r.group;
    a.addEventListener('click', closePanel);
    sec.appendChild(a);
    panelBody.appendChild(sec);
    var cols = col === null ? data.cols.map(function (_, i) { return i; }) : [col];
    cols.forEach(function (c) {
      var tests = r.cells[c] || [];
      var h4 = el('h4', null, data.cols[c]);
      if (r.was && r.was[c]) h4.appendChild(el('span', 'badge s-skip', ' was ' + r.was[c] + ' in the baseline'));
      panelBody.appendChild(h4);
      if (tests.length === 0) { panelBody.appendChild(el('p', 'muted', 'No test for this on ' + data.cols[c] + '.')); return; }
      var ul = el('ul', 'tests-list');
      tests.forEach(function (ti) { ul.appendChild(testBlock(ti)); });
      panelBody.appendChild(ul);
    });
    lastFocus = doc.activeElement;
    panel.hidden = false;
    panel.scrollTop = 0;
    doc.getElementById('panel-close').focus();
  }

  matrix.addEventListener('click', function (e) {
    var target = e.target;
    var td = target.closest ? target.closest('td.cell, th[scope=row]') : null;
    if (!td) return;
    var tr = td.closest('tr.row');
    if (!tr) return;
    e.preventDefault();
    var colAttr = td.getAttribute('data-col');
    openPanel(Number(tr.getAttribute('data-row')), colAttr === null ? null : Number(colAttr));
  });
  // keyboard: cells are focusable
  matrix.querySelectorAll('td.cell > span').forEach(function (s) { s.tabIndex = 0; });
  matrix.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    var td = e.target.closest ? e.target.closest('td.cell') : null;
    if (!td) return;
    e.preventDefault();
    openPanel(Number(td.closest('tr.row').getAttribute('data-row')), Number(td.getAttribute('data-col')));
  });
  apply();
})();
`;
