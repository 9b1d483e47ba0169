// Forager viewer, trace page: the step slider moves over the frames embedded in the page. No dependencies.
(function () {
  "use strict";
  var data = document.getElementById("trace-frames");
  var slider = document.getElementById("step");
  if (!data || !slider) { return; }
  var frames = JSON.parse(data.textContent);
  var lines = Array.prototype.slice.call(document.querySelectorAll(".src-line"));
  var body = document.querySelector("#locals tbody");
  var source = document.getElementById("source");

  function reveal() {  // the current line in the middle of the source box
    var el = source.querySelector(".src-line.current");
    if (el) { source.scrollTop = Math.max(0, el.offsetTop - source.clientHeight / 2); }
  }

  function cell(tag, text, code) {
    var el = document.createElement(tag);
    if (code) { var c = document.createElement("code"); c.textContent = text; el.appendChild(c); }
    else { el.textContent = text; }
    return el;
  }

  function show(i) {
    var f = frames[i];
    if (!f) { return; }
    slider.value = String(i);
    document.getElementById("frame-index").textContent = String(i);
    var ev = document.getElementById("frame-event");
    ev.textContent = f.event;
    ev.className = "ev ev-" + f.event;
    document.getElementById("frame-line").textContent = String(f.line);
    lines.forEach(function (el) {
      el.classList.toggle("current", Number(el.getAttribute("data-line")) === f.line);
    });
    reveal();
    body.textContent = "";
    var names = Object.keys(f.locals);
    names.forEach(function (name) {
      var tr = document.createElement("tr");
      if (f.changed.indexOf(name) !== -1) { tr.className = "changed"; }
      tr.appendChild(cell("th", name, false));
      tr.appendChild(cell("td", f.locals[name], true));
      body.appendChild(tr);
    });
    if (!names.length) { var tr = document.createElement("tr"); tr.appendChild(cell("td", "no locals", false)); body.appendChild(tr); }
    var arg = document.getElementById("frame-arg");
    arg.hidden = f.arg === null;
    document.getElementById("arg-title").textContent = f.event === "exception" ? "raised" : "returned";
    document.getElementById("arg-value").textContent = f.arg === null ? "" : f.arg;
    if (window.history && window.history.replaceState) { window.history.replaceState(null, "", "?step=" + i); }
  }

  slider.addEventListener("input", function () { show(Number(slider.value)); });
  document.getElementById("prev").addEventListener("click", function (e) { e.preventDefault(); show(Math.max(0, Number(slider.value) - 1)); });
  document.getElementById("next").addEventListener("click", function (e) { e.preventDefault(); show(Math.min(frames.length - 1, Number(slider.value) + 1)); });
  reveal();
  var asked = /^#step=(\d+)$/.exec(window.location.hash);  // a link to a frame: #step=N
  if (asked) { show(Math.min(frames.length - 1, Number(asked[1]))); }
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { show(Math.min(frames.length - 1, Number(slider.value) + 1)); }
    if (e.key === "ArrowLeft") { show(Math.max(0, Number(slider.value) - 1)); }
  });
})();
