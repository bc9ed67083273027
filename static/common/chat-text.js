/* Shared by the widget and the workspace: texts, ids and safe rendering of message text.
   Message text is always text: links become <a> elements built from it, never HTML. */
(function () {
  "use strict";
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function uuid4() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b); b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function appendLinkified(parent, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+/g, last = 0, match;
    while ((match = re.exec(text)) !== null) {
      var url = match[0].replace(/[.,;:!?)\]]+$/, "");
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.href = url; a.textContent = url; a.target = "_blank"; a.rel = "noopener noreferrer nofollow";
      parent.appendChild(a);
      last = match.index + url.length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
  /* A link an agent sent under an alias (W8): only http, https, mailto and tel become links;
     anything else is shown as plain text, whatever the server let through. */
  var LINK_SCHEMES = /^(https?:\/\/[^\s]+|mailto:[^\s]+|tel:[^\s]+)$/i;
  function appendLink(parent, text, url) {
    if (!LINK_SCHEMES.test(url || "")) { parent.appendChild(document.createTextNode(text)); return; }
    var a = document.createElement("a");
    a.href = url; a.textContent = text || url; a.title = url; a.className = "sent-link";
    if (/^https?:/i.test(url)) { a.target = "_blank"; a.rel = "noopener noreferrer nofollow"; }
    parent.appendChild(a);
  }
  function appendBody(parent, frame) {
    if (frame.link) { appendLink(parent, frame.text, frame.link); } else { appendLinkified(parent, frame.text); }
  }
  function timeOf(iso, lang) {
    try { return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }); }
    catch (e) { return ""; }
  }
  window.CCText = { fmt: fmt, uuid4: uuid4, appendLinkified: appendLinkified, appendLink: appendLink, appendBody: appendBody, timeOf: timeOf };
})();
