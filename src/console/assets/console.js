// hsflow console: small progressive enhancements; every page works without them.
// A page that asks for it (data-refresh="N") reloads itself every N seconds,
// unless the reader is typing in a form or has scrolled away from the top.
(function () {
  var el = document.querySelector('[data-refresh]');
  if (!el) return;
  var secs = parseInt(el.getAttribute('data-refresh'), 10);
  if (!(secs > 0)) return;
  setInterval(function () {
    var a = document.activeElement;
    var busy = a && (a.tagName === 'INPUT' || a.tagName === 'SELECT' || a.tagName === 'TEXTAREA');
    if (!busy && window.scrollY < 40 && document.visibilityState === 'visible') location.reload();
  }, secs * 1000);
})();
