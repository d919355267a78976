// hsflow studio: the rule editor. The page works without this script (a
// plain text area; Check and Save are form posts). With it:
// - the text area becomes a code editor (CodeMirror 5, vendored) with TOML
//   or Handlebars highlighting and line numbers;
// - lint runs as you type: each pause sends the file to the server's lint
//   (the same lint as `hsflow lint` and every save); findings are marked at
//   their line and column and listed below, each with its hint;
// - Ctrl-Space (or typing a key at the start of a line, or a value after
//   `= "`) completes keys and values from the file kind's JSON Schema, the
//   one editors such as VS Code and Neovim read.
(function () {
  'use strict';
  var area = document.getElementById('text');
  var out = document.getElementById('findings');
  if (!area || !out) return;
  var path = area.getAttribute('data-path');
  var kind = area.getAttribute('data-kind');
  var CM = window.CodeMirror;
  var cm = null;
  var schema = null;

  // ---- the findings list (below the editor) ----
  function goTo(line, col) {
    if (cm) {
      cm.focus();
      cm.setCursor(CM.Pos(line - 1, col - 1));
      return;
    }
    var lines = area.value.split('\n');
    var at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    at += Math.max(0, col - 1);
    area.focus();
    area.setSelectionRange(at, at);
  }

  function list(findings) {
    out.textContent = '';
    if (findings.length === 0) {
      var ok = document.createElement('p');
      ok.className = 'ok';
      ok.textContent = 'Lint finds nothing wrong with the whole set.';
      out.appendChild(ok);
      return;
    }
    var h = document.createElement('h2');
    h.textContent = 'What lint finds as you type';
    out.appendChild(h);
    var ul = document.createElement('ul');
    ul.className = 'findings-list';
    findings.forEach(function (f) {
      var li = document.createElement('li');
      li.className = f.severity;
      var here = f.path === path;
      var where = document.createElement(here ? 'a' : 'span');
      where.className = 'where';
      where.textContent = f.path + ':' + f.line + ':' + f.col;
      if (here) {
        where.href = '#text';
        where.addEventListener('click', function (e) { e.preventDefault(); goTo(f.line, f.col); });
      }
      li.appendChild(where);
      li.appendChild(document.createTextNode(' ' + f.severity + ': ' + f.message));
      if (f.hint) {
        li.appendChild(document.createElement('br'));
        var hint = document.createElement('span');
        hint.className = 'hint';
        hint.textContent = f.hint;
        li.appendChild(hint);
      }
      ul.appendChild(li);
    });
    out.appendChild(ul);
  }

  var sent = 0;
  function lint(text, done) {
    var mine = ++sent;
    fetch('/ui/studio/lint', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ path: path, text: text })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) {
        if (!result || mine !== sent) return;
        list(result.findings);
        if (done) done(result.findings);
      })
      .catch(function () { /* Check and Save lint too */ });
  }

  // ---- completion from the JSON Schema ----
  function lookup(ref) {
    var parts = ref.replace(/^#\//, '').split('/');
    var node = schema;
    for (var i = 0; i < parts.length && node; i++) node = node[parts[i]];
    return node;
  }
  function deref(s) {
    var guard = 0;
    while (s && s.$ref && guard++ < 20) s = lookup(s.$ref);
    return s;
  }
  // Every shape a schema node can take (its oneOf/anyOf/allOf branches).
  function shapes(s, acc) {
    acc = acc || [];
    s = deref(s);
    if (!s || typeof s !== 'object') return acc;
    acc.push(s);
    ['oneOf', 'anyOf', 'allOf'].forEach(function (k) {
      (s[k] || []).forEach(function (b) { shapes(b, acc); });
    });
    return acc;
  }
  function kindOf(shape) {
    var k = shape.properties && deref(shape.properties.kind);
    if (!k) return null;
    if (k.const !== undefined) return [k.const];
    return k.enum || null;
  }
  // The object shapes a table header such as rules.actions points to.
  function tablesAt(segments) {
    var nodes = [schema];
    segments.forEach(function (seg) {
      var next = [];
      nodes.forEach(function (n) {
        shapes(n).forEach(function (sh) {
          var p = sh.properties && sh.properties[seg];
          if (!p && sh.additionalProperties && typeof sh.additionalProperties === 'object') p = sh.additionalProperties;
          if (!p) return;
          shapes(p).forEach(function (b) { next.push(b.items ? b.items : b); });
        });
      });
      nodes = next;
    });
    var all = [];
    nodes.forEach(function (n) { shapes(n, all); });
    return all.filter(function (s) { return s.properties; });
  }
  // Where the cursor is: the table's header, its keys, and its kind.
  function context(line) {
    var header = [];
    var keys = {};
    var kindValue = null;
    var kv = /^\s*([A-Za-z0-9_-]+)\s*=\s*(.*)$/;
    var head = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?/;
    for (var i = line; i >= 0; i--) {
      var l = cm.getLine(i);
      var h = head.exec(l);
      if (h) { header = h[1].split('.').map(function (s) { return s.trim().replace(/^"|"$/g, ''); }); break; }
      var m = kv.exec(l);
      if (m && i !== line) { keys[m[1]] = true; if (m[1] === 'kind') kindValue = m[2].replace(/^["']|["']\s*$/g, ''); }
    }
    for (var j = line + 1; j < cm.lineCount(); j++) {
      var below = cm.getLine(j);
      if (head.test(below)) break;
      var n = kv.exec(below);
      if (n) { keys[n[1]] = true; if (n[1] === 'kind') kindValue = n[2].replace(/^["']|["']\s*$/g, ''); }
    }
    return { header: header, keys: keys, kind: kindValue };
  }
  function fitting(ctx) {
    var tables = tablesAt(ctx.header);
    if (!ctx.kind) return tables;
    var same = tables.filter(function (t) { var k = kindOf(t); return !k || k.indexOf(ctx.kind) >= 0; });
    return same.length ? same : tables;
  }
  function describe(s) {
    var d = (s && (s.description || '')) || '';
    return d.split('\n')[0];
  }
  function complete(editor) {
    if (!schema) return null;
    var cur = editor.getCursor();
    var before = editor.getLine(cur.line).slice(0, cur.ch);
    var ctx = context(cur.line);
    var keyOnly = /^\s*([A-Za-z0-9_-]*)$/.exec(before);
    var value = /^\s*([A-Za-z0-9_-]+)\s*=\s*"?([^"]*)$/.exec(before);
    var items = [];
    var seen = {};
    if (keyOnly) {
      fitting(ctx).forEach(function (t) {
        Object.keys(t.properties).forEach(function (k) {
          if (seen[k] || ctx.keys[k]) return;
          seen[k] = true;
          items.push({ text: k + ' = ', displayText: k + ' — ' + describe(deref(t.properties[k]) || t.properties[k]) });
        });
      });
      var word = keyOnly[1];
      return {
        list: items.filter(function (i) { return i.text.indexOf(word) === 0; }),
        from: CM.Pos(cur.line, cur.ch - word.length), to: cur
      };
    }
    if (value) {
      var key = value[1];
      var typed = value[2];
      var tables = key === 'kind' ? tablesAt(ctx.header) : fitting(ctx);
      tables.forEach(function (t) {
        var p = t.properties[key];
        if (!p) return;
        shapes(p).forEach(function (s) {
          var vals = s.enum || (s.const !== undefined ? [s.const] : []);
          if (s.type === 'boolean') vals = [true, false];
          vals.forEach(function (v) {
            var text = typeof v === 'string' ? '"' + v + '"' : String(v);
            if (seen[text]) return;
            seen[text] = true;
            items.push({ text: text, displayText: text + (s.description ? ' — ' + describe(s) : '') });
          });
        });
      });
      var quoted = /"[^"]*$/.test(before);
      var start = cur.ch - typed.length - (quoted ? 1 : 0);
      return {
        list: items.filter(function (i) { return i.text.replace(/^"/, '').indexOf(typed) === 0; }),
        from: CM.Pos(cur.line, start), to: cur
      };
    }
    return null;
  }

  // ---- without the editor: lint the text area as you type ----
  if (!CM) {
    var timer = null;
    area.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { lint(area.value); }, 400);
    });
    return;
  }

  // ---- the code editor ----
  var mode = kind === 'toml' ? 'toml'
    : { name: 'handlebars', base: /\.html\.hbs$/.test(path) ? 'text/html' : 'text/plain' };
  cm = CM.fromTextArea(area, {
    mode: mode,
    lineNumbers: true,
    indentUnit: 2,
    tabSize: 2,
    gutters: ['CodeMirror-lint-markers', 'CodeMirror-linenumbers'],
    extraKeys: { 'Ctrl-Space': 'autocomplete', Tab: function (e) { e.replaceSelection('  '); } },
    hintOptions: { hint: complete, completeSingle: false },
    lint: {
      async: true,
      delay: 400,
      getAnnotations: function (text, update) {
        lint(text, function (findings) {
          update(findings.filter(function (f) { return f.path === path; }).map(function (f) {
            return {
              from: CM.Pos(f.line - 1, f.col - 1),
              to: CM.Pos(f.line - 1, Math.max(f.end_col - 1, f.col)),
              message: f.message + (f.hint ? '\n' + f.hint : ''),
              severity: f.severity
            };
          }));
        });
      }
    }
  });
  // The editor's text goes back into the form on Check and Save.
  cm.on('change', function () { cm.save(); });
  if (kind === 'toml') {
    fetch('/ui/studio/schema?file=' + encodeURIComponent(path), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { schema = s; area.setAttribute('data-schema', s ? 'loaded' : 'none'); })
      .catch(function () { /* no completion, the rest works */ });
    // Offer keys as a line's first word is typed, and values after `= "`.
    cm.on('inputRead', function (editor, change) {
      if (!schema || editor.state.completionActive) return;
      var cur = editor.getCursor();
      var before = editor.getLine(cur.line).slice(0, cur.ch);
      if (/^\s*[A-Za-z_]$/.test(before) || /=\s*"$/.test(before)) editor.showHint({ completeSingle: false });
    });
  }
  window.hsflowEditor = cm;
})();
