// hsflow studio: lint as you type. The editor is a plain text area and the
// page works without this script; with it, each pause in typing sends the
// file to the server's lint (the same lint as `hsflow lint` and every save)
// and lists what it finds. Clicking a finding puts the cursor on its line.
(function () {
  var area = document.getElementById('text');
  var out = document.getElementById('findings');
  if (!area || !out) return;
  var path = area.getAttribute('data-path');
  var timer = null;
  var sent = 0;

  function offsetOf(line, col) {
    var lines = area.value.split('\n');
    var at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    return at + Math.max(0, col - 1);
  }

  function show(result) {
    out.textContent = '';
    var h = document.createElement('h2');
    var mine = result.findings.filter(function (f) { return f.path === path; });
    var elsewhere = result.findings.length - mine.length;
    if (result.findings.length === 0) {
      var ok = document.createElement('p');
      ok.className = 'ok';
      ok.textContent = 'Lint finds nothing wrong with the whole set.';
      out.appendChild(ok);
      return;
    }
    h.textContent = 'What lint finds as you type';
    out.appendChild(h);
    var ul = document.createElement('ul');
    ul.className = 'findings-list';
    result.findings.forEach(function (f) {
      var li = document.createElement('li');
      li.className = f.severity;
      var where = document.createElement(f.path === path ? 'a' : 'span');
      where.className = 'where';
      where.textContent = f.path + ':' + f.line + ':' + f.col;
      if (f.path === path) {
        where.href = '#text';
        where.addEventListener('click', function (e) {
          e.preventDefault();
          var at = offsetOf(f.line, f.col);
          area.focus();
          area.setSelectionRange(at, at);
        });
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
    if (elsewhere > 0 && mine.length === 0) {
      var p = document.createElement('p');
      p.textContent = 'This file is fine; the findings above are in other files.';
      out.appendChild(p);
    }
  }

  function lint() {
    var mine = ++sent;
    fetch('/ui/studio/lint', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ path: path, text: area.value })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) { if (result && mine === sent) show(result); })
      .catch(function () { /* the page still works: Check and Save lint too */ });
  }

  area.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(lint, 400);
  });
})();
