/* The customer's chat, inside the widget iframe. Speaks PROTOCOL.md: REST to start, then
   one WebSocket; remembers the last seq and resumes from it after any drop; resends unsent
   messages with the same client_id (the server stores each once). */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-texts").textContent);
  var C = JSON.parse(document.getElementById("cc-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var storeKey = "cc-chat-" + C.key;
  var state = { token: null, conversationId: null, lastSeq: 0, ws: null, ended: false, retry: 0,
                pending: {}, typingSent: 0, typingTimer: null, typingHide: null, seen: {} };

  var fmt = CCText.fmt, uuid4 = CCText.uuid4, appendLinkified = CCText.appendLinkified;
  function visitorId() {
    try {
      var id = localStorage.getItem("cc-visitor");
      if (!id) { id = uuid4(); localStorage.setItem("cc-visitor", id); }
      return id;
    } catch (e) { return null; }
  }
  function save() {
    try {
      if (state.token && !state.ended) {
        sessionStorage.setItem(storeKey, JSON.stringify({ token: state.token, id: state.conversationId }));
      } else { sessionStorage.removeItem(storeKey); }
    } catch (e) { /* private mode: the chat still works, it just does not survive a reload */ }
  }
  function tellHost(action, extra) {
    var message = { source: "cc-widget", key: C.key, action: action };
    for (var k in extra || {}) { message[k] = extra[k]; }
    if (window.parent !== window) { window.parent.postMessage(message, "*"); }
  }
  function setStatus(text) { $("status").textContent = text || ""; }
  function show(pane) {
    ["intro", "closed", "conversation"].forEach(function (id) { $(id).hidden = id !== pane; });
  }

  function timeOf(iso) { return CCText.timeOf(iso, C.locale); }
  function addLine(kind, who, text, at, key, link) {
    var li = document.createElement("li");
    li.className = "line " + kind;
    if (key) { li.dataset.key = key; }
    if (who) {
      var name = document.createElement("span"); name.className = "who"; name.textContent = who;
      li.appendChild(name);
    }
    var body = document.createElement("span"); body.className = "text"; CCText.appendBody(body, { text: text, link: link });
    li.appendChild(body);
    if (at) { var time = document.createElement("time"); time.dateTime = at; time.textContent = timeOf(at); li.appendChild(time); }
    $("log").appendChild(li);
    $("log").scrollTop = $("log").scrollHeight;
    return li;
  }

  function renderFrame(f) {
    if (f.seq && state.seen[f.seq]) { return; }
    if (f.seq) { state.seen[f.seq] = true; state.lastSeq = Math.max(state.lastSeq, f.seq); }
    if (f.type === "message") {
      var role = f.author && f.author.role;
      if (role === "customer" && f.client_id && state.pending[f.client_id]) {
        var el = state.pending[f.client_id].el;
        delete state.pending[f.client_id];
        el.classList.remove("sending"); el.removeAttribute("aria-busy");
        var note = el.querySelector(".state"); if (note) { note.remove(); }
        if (f.sent_at) { var t = document.createElement("time"); t.dateTime = f.sent_at; t.textContent = timeOf(f.sent_at); el.appendChild(t); }
        return;
      }
      var who = role === "customer" ? T.you : (f.author.name || T.agent);
      addLine(role, who, f.text, f.sent_at, null, f.link);
      if (role === "agent") { $("typing").textContent = ""; tellHost("activity"); }
    } else if (f.type === "event") {
      var d = f.data || {};
      var text = { agent_joined: fmt(T.joined, { name: d.name || T.agent }), agent_left: fmt(T.left, { name: d.name || T.agent }),
                   transferred: T.transferred, ended: T.ended, closing_soon: T.closing_soon }[f.event];
      if (f.event === "queued") { text = d.agents_available ? "" : T.busy; }
      if (text) { addLine("system", "", text, f.at); }
      if (f.event === "queued" && d.position && !state.ended) { queueInfo(d.position, d.estimated_wait_seconds); }
      if (f.event === "agent_joined") { $("queue-info") && $("queue-info").remove(); }
      if (f.event === "ended") { onEnded(); }
    }
  }
  function queueInfo(position, wait) {
    var el = $("queue-info");
    if (!el) { el = document.createElement("li"); el.id = "queue-info"; el.className = "line system queue"; $("log").appendChild(el); }
    var text = fmt(T.queued, { position: position });
    if (wait) { text += " " + fmt(T.wait, { minutes: Math.max(1, Math.round(wait / 60)) }); }
    el.textContent = text;
  }

  function onFrame(f) {
    if (f.type === "message" || f.type === "event") { renderFrame(f); save(); }
    else if (f.type === "queue") { if (!state.ended) { queueInfo(f.position, f.estimated_wait_seconds); } }
    else if (f.type === "typing") {
      $("typing").textContent = f.active ? fmt(T.typing, { name: f.name || T.agent }) : "";
      clearTimeout(state.typingHide);
      if (f.active) { state.typingHide = setTimeout(function () { $("typing").textContent = ""; }, 8000); }
    } else if (f.type === "error") {
      if (f.client_id && state.pending[f.client_id] && f.code === "rate_limited") { resendLater(f.client_id); }
      else if (f.client_id && state.pending[f.client_id]) { failPending(f.client_id, f.code === "too_long" ? T.too_long : f.message); }
      else if (f.code !== "rate_limited") { setStatus(fmt(T.failed, { reason: f.message })); }
    } else if (f.type === "transcript") { setStatus(fmt(T.transcript_sent, { email: f.email })); }
  }
  function resendLater(clientId) {  // refused for sending too fast: the same client_id again in a second
    setTimeout(function () {
      var p = state.pending[clientId];
      if (p) { sendFrame({ type: "message", client_id: clientId, text: p.text }); }
    }, 1000 + Math.random() * 500);
  }
  function failPending(clientId, reason) {
    var p = state.pending[clientId]; delete state.pending[clientId];
    p.el.classList.remove("sending"); p.el.classList.add("failed");
    var note = p.el.querySelector(".state"); note.textContent = fmt(T.failed, { reason: reason });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/chat/");
    state.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "auth", token: state.token, after_seq: state.lastSeq }));
      state.retry = 0; setStatus("");
      Object.keys(state.pending).forEach(function (id) {  // resend what was not acknowledged
        ws.send(JSON.stringify({ type: "message", client_id: id, text: state.pending[id].text }));
      });
    };
    ws.onmessage = function (e) { try { onFrame(JSON.parse(e.data)); } catch (err) { /* ignore a bad frame */ } };
    ws.onclose = function (e) {
      if (state.ws !== ws) { return; }
      state.ws = null;
      if (e.code === 4401 || e.code === 4403) { state.token = null; save(); boot(); return; }
      if (state.ended) { return; }
      setStatus(T.offline);
      state.retry = Math.min(state.retry + 1, 4);  // 0.5, 1, 2, 4 s, then every 4 s
      setTimeout(connect, 500 * Math.pow(2, state.retry - 1) + Math.random() * 300);
    };
  }
  function sendFrame(frame) {
    if (state.ws && state.ws.readyState === 1) { state.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function sendMessage(text) {
    if (!text.trim()) { return; }
    if (text.length > 4000) { setStatus(T.too_long); return; }
    var id = uuid4();
    var el = addLine("customer sending", T.you, text, null);
    el.setAttribute("aria-busy", "true");
    var note = document.createElement("span"); note.className = "state"; note.textContent = T.sending; el.appendChild(note);
    state.pending[id] = { text: text, el: el };
    sendFrame({ type: "message", client_id: id, text: text });  // else sent on reconnect
    sendFrame({ type: "typing", active: false }); state.typingSent = 0;
  }

  function onEnded() {
    state.ended = true; save();
    $("composer").hidden = true; $("end").hidden = true; $("typing").textContent = "";
    var info = $("queue-info"); if (info) { info.remove(); }
    $("after").hidden = false;
    tellHost("ended");
  }

  function start(prechat) {
    var body = { prechat: prechat, locale: C.locale, visitor_id: visitorId(),
                 context: { page_url: document.referrer ? document.referrer.slice(0, 500) : "" } };
    return fetch("/api/v1/widget/" + encodeURIComponent(C.key) + "/conversations", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return { status: r.status, data: data }; }); });
  }

  function buildPrechat(fields) {
    var box = $("prechat-fields"); box.textContent = "";
    fields.forEach(function (field) {
      var id = "pc-" + field.name;
      var label = document.createElement("label"); label.htmlFor = id;
      label.textContent = field.label + (field.required ? " *" : "");
      var input;
      if (field.type === "choice") {
        input = document.createElement("select");
        var empty = document.createElement("option"); empty.value = ""; empty.textContent = T.choose; input.appendChild(empty);
        (field.choices || []).forEach(function (c) {
          var o = document.createElement("option"); o.value = c.value; o.textContent = c.label; input.appendChild(o);
        });
      } else {
        input = document.createElement("input");
        input.type = { email: "email", phone: "tel", number: "text" }[field.type] || "text";
        if (field.type === "number") { input.inputMode = "decimal"; }
        input.maxLength = 500;
      }
      input.id = id; input.name = field.name; if (field.required) { input.required = true; input.setAttribute("aria-required", "true"); }
      var error = document.createElement("span"); error.className = "field-error"; error.id = id + "-error";
      input.setAttribute("aria-describedby", error.id);
      box.appendChild(label); box.appendChild(input); box.appendChild(error);
    });
  }

  function showIntro(status) {
    show("intro");
    var info = status.agents_available > 0 ? fmt(T.available, { n: status.agents_available }) : T.busy;
    $("intro-info").textContent = info;
    buildPrechat(status.prechat_fields || []);
    document.dispatchEvent(new CustomEvent("cc-status", { detail: status }));  // call.js offers "Call us"
    var first = $("prechat").querySelector("input, select, button"); if (first) { first.focus(); }
  }
  function showClosed(status) {
    show("closed");
    $("closed-message").textContent = status.message;
    $("offline-form").hidden = !status.offline_form;
  }
  function openConversation() {
    show("conversation");
    $("composer").hidden = false; $("end").hidden = false; $("after").hidden = true;
    connect();
    $("text").focus();
  }

  function boot() {
    state = Object.assign(state, { lastSeq: 0, ended: false, seen: {}, pending: {} });
    $("log").textContent = "";
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (e) { saved = null; }
    if (saved && saved.token) {
      state.token = saved.token; state.conversationId = saved.id; openConversation(); return;
    }
    fetch("/api/v1/widget/" + encodeURIComponent(C.key) + "/status?locale=" + encodeURIComponent(C.locale))
      .then(function (r) { return r.json(); })
      .then(function (status) { if (status.open) { showIntro(status); } else { showClosed(status); } })
      .catch(function () { setStatus(T.error); });
  }

  $("prechat").addEventListener("submit", function (e) {
    e.preventDefault();
    var answers = {};
    Array.prototype.forEach.call($("prechat").querySelectorAll("input, select"), function (input) {
      if (input.value.trim()) { answers[input.name] = input.value.trim(); }
      $(input.id + "-error").textContent = "";
      input.removeAttribute("aria-invalid");
    });
    $("prechat-error").textContent = "";
    start(answers).then(function (res) {
      if (res.status === 201) {
        state.token = res.data.customer_token; state.conversationId = res.data.conversation_id; save();
        openConversation();
      } else if (res.status === 409) {
        showClosed({ message: res.data.message, offline_form: true });
      } else {
        var fields = res.data.fields || {};
        Object.keys(fields).forEach(function (name) {
          var err = $("pc-" + name + "-error"); var input = $("pc-" + name);
          var text = [].concat(fields[name]).join(" ");
          if (err) { err.textContent = text; input.setAttribute("aria-invalid", "true"); }
          else { $("prechat-error").textContent += text + " "; }
        });
        if (!Object.keys(fields).length) { $("prechat-error").textContent = res.data.message || T.error; }
        var bad = $("prechat").querySelector("[aria-invalid=true]"); if (bad) { bad.focus(); }
      }
    }).catch(function () { $("prechat-error").textContent = T.error; });
  });

  $("composer").addEventListener("submit", function (e) {
    e.preventDefault(); sendMessage($("text").value); $("text").value = ""; $("text").focus();
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("text").addEventListener("input", function () {
    var now = Date.now();
    if (now - state.typingSent > 3000) { sendFrame({ type: "typing", active: true }); state.typingSent = now; }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { sendFrame({ type: "typing", active: false }); state.typingSent = 0; }, 4000);
  });
  $("end").addEventListener("click", function () {
    if (window.confirm(T.end_confirm)) { sendFrame({ type: "end" }); }
  });
  $("minimise").addEventListener("click", function () { tellHost("minimise"); });
  $("close").addEventListener("click", function () {
    if (state.token && !state.ended) { sendFrame({ type: "end" }); }
    state.token = null; state.ended = true; save();
    tellHost("close");
  });
  Array.prototype.forEach.call(document.querySelectorAll("#rating [data-score]"), function (button) {
    button.addEventListener("click", function () {
      var score = parseInt(button.dataset.score, 10);
      sendFrame({ type: "rating", score: score });
      Array.prototype.forEach.call(document.querySelectorAll("#rating [data-score]"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      setStatus(T.rate_thanks);
      $("rating-comment").hidden = false;
      state.score = score;
    });
  });
  $("send-comment").addEventListener("click", function () {
    sendFrame({ type: "rating", score: state.score, comment: $("comment").value.slice(0, 2000) });
    $("rating-comment").hidden = true; setStatus(T.rate_thanks);
  });
  $("transcript").addEventListener("submit", function (e) {
    e.preventDefault();
    var email = $("transcript-email").value.trim();
    if (email) { sendFrame({ type: "transcript", email: email }); }
  });
  $("new-chat").addEventListener("click", function () {
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(); }
    state.token = null; save(); boot();
  });
  $("offline-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = $("offline-form");
    var body = { name: form.name.value, email: form.email.value, phone: form.phone.value, text: form.text.value };
    fetch("/api/v1/widget/" + encodeURIComponent(C.key) + "/offline-messages", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": C.locale }, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return { status: r.status, data: data }; }); })
      .then(function (res) {
        if (res.status === 201) { form.hidden = true; setStatus(T.offline_thanks); }
        else {
          var fields = res.data.fields || {};
          $("offline-error").textContent = Object.keys(fields).map(function (k) { return [].concat(fields[k]).join(" "); }).join(" ") || T.error;
        }
      }).catch(function () { $("offline-error").textContent = T.error; });
  });

  document.documentElement.style.setProperty("--accent", C.color);
  boot();
})();
