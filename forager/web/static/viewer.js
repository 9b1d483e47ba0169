// Forager viewer: live search within a trajectory, expand/collapse observations. No dependencies.
(function () {
  "use strict";
  var q = document.getElementById("q");
  var turns = Array.prototype.slice.call(document.querySelectorAll("li.turn"));
  var count = document.getElementById("match-count");
  var timer = null;

  function filter() {
    var needle = q.value.trim().toLowerCase();
    var shown = 0;
    turns.forEach(function (li) {
      var hit = !needle || li.textContent.toLowerCase().indexOf(needle) !== -1;
      li.hidden = !hit;
      if (hit) {
        shown += 1;
        if (needle) {
          var d = li.querySelector("details.obs");
          if (d && d.textContent.toLowerCase().indexOf(needle) !== -1) { d.open = true; }
        }
      }
    });
    if (count) { count.textContent = needle ? shown + " of " + turns.length + " steps match" : ""; }
  }

  if (q && turns.length) {
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(filter, 120);
    });
  }
  function setAll(open) {
    document.querySelectorAll("details.obs").forEach(function (d) { d.open = open; });
  }
  var ex = document.getElementById("expand-all");
  var co = document.getElementById("collapse-all");
  if (ex) { ex.addEventListener("click", function () { setAll(true); }); }
  if (co) { co.addEventListener("click", function () { setAll(false); }); }
})();
