/* Embed: <script src="https://HOST/static/widget/loader.js" data-widget="KEY" async></script>
   Adds a chat button; the chat itself runs in an iframe from HOST (its own origin and CSS).
   Minimise hides the frame and keeps the chat; close ends it. Optional data-locale. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-widget]");
  if (!script || window.__ccWidgetLoaded) { return; }
  window.__ccWidgetLoaded = true;
  var key = script.getAttribute("data-widget");
  var locale = script.getAttribute("data-locale") || (navigator.language || "en");
  var base = new URL(script.src, location.href).origin;
  var frame = null, open = false, button;

  function style(el, css) { for (var k in css) { el.style.setProperty(k, css[k]); } }
  function phone() { return window.matchMedia && window.matchMedia("(max-width: 480px)").matches; }

  function place() {
    if (!frame) { return; }
    if (phone()) {
      style(frame, { inset: "0", width: "100%", height: "100%", "max-height": "none", right: "0", bottom: "0", "border-radius": "0" });
    } else {
      style(frame, { inset: "auto", right: "20px", bottom: "90px", width: "370px", height: "560px", "max-height": "calc(100vh - 110px)", "border-radius": "12px" });
    }
  }
  function makeFrame() {
    frame = document.createElement("iframe");
    frame.src = base + "/widget/" + encodeURIComponent(key) + "/?locale=" + encodeURIComponent(locale);
    frame.title = button.getAttribute("aria-label");
    frame.allow = "microphone; autoplay";  // "Call us": the call runs inside the frame
    frame.setAttribute("data-cc-widget", key);
    style(frame, { position: "fixed", border: "0", "box-shadow": "0 8px 30px rgba(0,0,0,.25)", "z-index": "2147483000", background: "#fff" });
    place();
    document.body.appendChild(frame);
  }
  function setOpen(value) {
    open = value;
    if (open && !frame) { makeFrame(); }
    if (frame) { frame.style.display = open ? "block" : "none"; }
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.style.display = open && phone() ? "none" : "flex";
    if (open && frame) { frame.focus(); } else { button.focus(); }
  }

  function makeButton(label, color) {
    button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-expanded", "false");
    button.title = label;
    button.setAttribute("data-cc-button", key);
    // An inline SVG speech bubble: no icon font or emoji font needed on the host page.
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "28"); svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    svg.appendChild(path); button.appendChild(svg);
    style(button, { position: "fixed", right: "20px", bottom: "20px", width: "60px", height: "60px", "border-radius": "50%",
      border: "0", background: color || "#1f5f8b", color: "#fff", "font-size": "26px", cursor: "pointer",
      "box-shadow": "0 4px 14px rgba(0,0,0,.3)", "z-index": "2147483001", display: "flex", "align-items": "center", "justify-content": "center" });
    button.addEventListener("click", function () { setOpen(!open); });
    document.body.appendChild(button);
  }

  window.addEventListener("message", function (e) {
    if (e.origin !== base || !e.data || e.data.source !== "cc-widget" || e.data.key !== key) { return; }
    if (e.data.action === "minimise") { setOpen(false); }
    if (e.data.action === "close") { if (frame) { frame.remove(); frame = null; } setOpen(false); }
  });
  window.addEventListener("resize", place);

  function init() {
    fetch(base + "/api/v1/widget/" + encodeURIComponent(key) + "/status?locale=" + encodeURIComponent(locale))
      .then(function (r) { if (!r.ok) { throw new Error("widget " + key + ": " + r.status); } return r.json(); })
      .then(function (status) { makeButton(status.button_label || status.title, status.color); })
      .catch(function (err) { if (window.console) { console.warn("chat widget not loaded:", err.message); } });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
